"""Posting and reading through pydiscourse: validation errors, the create memo, pagination,
redirects on wrong slugs and external ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydiscourse.exceptions import DiscourseClientError, DiscourseError

from tests.conftest import SessionForum

BODY = "A body that is comfortably longer than twenty characters."


def new_topic(forum: SessionForum, **kwargs: object) -> dict:
    client = forum.client()
    return client.create_post(BODY, title=f"Topic about {forum.name()}", **kwargs)


def test_create_post_validation_errors_are_422_create_post(forum: SessionForum) -> None:
    client = forum.client()
    with pytest.raises(DiscourseClientError) as short:
        client.create_post("too short", title="tiny")
    response = short.value.response
    assert response.status_code == 422
    assert response.json() == {
        "action": "create_post",
        "errors": [
            "Title is too short (minimum is 15 characters)",
            "Body is too short (minimum is 20 characters)",
        ],
    }
    taken = new_topic(forum)
    with pytest.raises(DiscourseClientError) as duplicate:
        client.create_post(BODY + " again", title=taken["topic_slug"].replace("-", " ").title())
    assert duplicate.value.response.json()["errors"] == ["Title has already been used"]


def test_identical_post_within_two_minutes_returns_the_first(forum: SessionForum) -> None:
    client = forum.client()
    title = f"Memoized topic {forum.name()}"
    first = client.create_post(BODY, title=title)
    again = client.create_post(BODY, title=title)
    assert again["id"] == first["id"]
    topics = [t for t in forum.forum.table("topics").values() if t["title"] == title]
    assert len(topics) == 1


def test_memo_expires_after_120_seconds(
    forum: SessionForum, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = forum.client()
    topic = new_topic(forum)
    reply = client.create_post(BODY, topic_id=topic["topic_id"])
    later = datetime.now(UTC) + timedelta(seconds=121)
    monkeypatch.setattr(forum.forum, "clock", lambda: later)
    assert client.create_post(BODY, topic_id=topic["topic_id"])["id"] != reply["id"]


def test_topic_pages_hold_20_posts_and_the_full_stream(forum: SessionForum) -> None:
    client = forum.client()
    topic = new_topic(forum)
    for n in range(24):
        client.create_post(f"{BODY} Reply number {n}.", topic_id=topic["topic_id"])
    page1 = client.topic(topic["topic_slug"], topic["topic_id"])
    page2 = client._get(f"/t/{topic['topic_id']}.json", page=2)
    assert len(page1["post_stream"]["posts"]) == 20
    assert len(page1["post_stream"]["stream"]) == 25
    assert [p["post_number"] for p in page2["post_stream"]["posts"]] == list(range(21, 26))
    with pytest.raises(DiscourseClientError) as beyond:
        client._get(f"/t/{topic['topic_id']}.json", page=3)
    assert beyond.value.response.status_code == 404
    wanted = page1["post_stream"]["stream"][-2:]
    chosen = client.posts(topic["topic_id"], post_ids=wanted)
    assert [p["id"] for p in chosen["post_stream"]["posts"]] == wanted


def test_latest_posts_come_50_a_page_with_inclusive_before(forum: SessionForum) -> None:
    client = forum.client()
    topic = new_topic(forum)
    for n in range(55):
        client.create_post(f"{BODY} Filler {n}.", topic_id=topic["topic_id"])
    newest = client.latest_posts()["latest_posts"]
    assert len(newest) == 50
    ids = [p["id"] for p in newest]
    assert ids == sorted(ids, reverse=True)
    page = client.latest_posts(before=ids[10])["latest_posts"]
    assert page[0]["id"] == ids[10]
    assert len(page) == 50


def test_category_pages_hold_30_topics_and_more_url_only_when_full(forum: SessionForum) -> None:
    client = forum.client()
    category = client.create_category(forum.name("Paging "), "0088CC")["category"]
    for _ in range(31):
        new_topic(forum, category_id=category["id"])
    path = f"/c/{category['slug']}/{category['id']}.json"
    first = client._get(path)["topic_list"]
    second = client._get(path, page=1)["topic_list"]
    assert len(first["topics"]) == 30
    assert first["more_topics_url"] == f"/c/{category['slug']}/{category['id']}/l/latest?page=1"
    assert len(second["topics"]) == 1
    assert "more_topics_url" not in second


def test_wrong_slug_and_external_id_redirect_with_301(forum: SessionForum) -> None:
    client = forum.client()
    external = forum.name("ext-")
    topic = new_topic(forum, external_id=external)
    target = f"{forum.url}/t/{topic['topic_slug']}/{topic['topic_id']}.json"
    for path in (f"/t/wrong-slug/{topic['topic_id']}.json", f"/t/external_id/{external}.json"):
        with pytest.raises(DiscourseError) as redirected:
            client._get(path)
        assert redirected.value.response.status_code == 301
        assert redirected.value.response.headers["Location"] == target
    followed = requests.get(
        f"{forum.url}/t/external_id/{external}.json",
        headers={"Api-Key": forum.api_key, "Api-Username": "system"},
        timeout=10,
    )
    assert followed.json()["id"] == topic["topic_id"]


def test_taken_external_id_is_422(forum: SessionForum) -> None:
    external = forum.name("ext-")
    new_topic(forum, external_id=external)
    with pytest.raises(DiscourseClientError) as taken:
        new_topic(forum, external_id=external.upper())
    assert taken.value.response.status_code == 422


def test_created_at_sets_history(forum: SessionForum) -> None:
    topic = new_topic(forum, created_at="2020-03-04T05:06:07Z")
    view = forum.client().topic(topic["topic_slug"], topic["topic_id"])
    assert view["created_at"] == "2020-03-04T05:06:07.000Z"
    assert topic["created_at"] == "2020-03-04T05:06:07.000Z"


def test_edit_delete_recover_and_tags(forum: SessionForum) -> None:
    client = forum.client()
    tag = forum.name("Tag")
    topic = new_topic(forum, tags=[tag])
    view = client.topic(topic["topic_slug"], topic["topic_id"])
    assert [t["name"] for t in view["tags"]] == [tag.lower()]
    edited = client.update_post(topic["id"], BODY + " Edited.", edit_reason="typo")
    assert edited["post"]["version"] == 2
    assert client.post_by_id(topic["id"])["raw"].endswith("Edited.")
    client._delete(f"/posts/{topic['id']}.json")
    with pytest.raises(requests.HTTPError):
        requests.get(f"{forum.url}/t/{topic['topic_id']}.json", timeout=10).raise_for_status()
    client._put(f"/posts/{topic['id']}/recover.json")
    assert client.topic(topic["topic_slug"], topic["topic_id"])["deleted_at"] is None
