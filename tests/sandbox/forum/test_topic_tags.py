"""A topic's tags have one form wherever the sandbox shows a topic: current Discourse's
{id, name, slug} objects (TopicTagsMixin), with tags_descriptions keyed by tag name."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.forum.serial_topics import webhook_topic
from tests.conftest import SessionForum


def call(forum: SessionForum, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"Api-Key": forum.api_key, "Api-Username": "system"}
    response = requests.request(method, forum.url + path, headers=headers, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_view_of_a_topic_gives_its_tags_as_objects(forum: SessionForum) -> None:
    tag = forum.name("tag")[:12]
    created = call(
        forum,
        "POST",
        "/posts.json",
        data={
            "title": f"Tagged topic {forum.name()}",
            "raw": "A topic with one tag.",
            "tags[]": [tag],
        },
    )
    call(forum, "PUT", f"/tag/{tag}.json", data={"tag[description]": "What the tag means"})
    topic_id = created["topic_id"]
    with forum.forum.lock:
        hook_payload = webhook_topic(forum.forum, forum.forum.table("topics")[topic_id])
    listed = call(forum, "GET", f"/tag/{tag}.json")["topic_list"]["topics"]
    latest = call(forum, "GET", "/latest.json")["topic_list"]["topics"]
    views = [
        call(forum, "GET", f"/t/{topic_id}.json"),
        next(t for t in listed if t["id"] == topic_id),
        next(t for t in latest if t["id"] == topic_id),
        hook_payload,
    ]
    for view in views:
        [only] = view["tags"]
        assert set(only) == {"id", "name", "slug"}
        assert only["name"] == tag
        assert view["tags_descriptions"] == {tag: "What the tag means"}
