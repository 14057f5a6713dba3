"""Tag renames, synonyms and tag info: the sandbox answers as Discourse's TagsController,
and ForumClient's tag methods read those answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from connectors.discourse.client import ForumClient
from core.errors import InvalidRequest, NotFound, PermissionDenied
from sandbox.forum.state import ForumEvent
from tests.conftest import SessionForum

BODY = "A body that is comfortably longer than twenty characters."


@pytest.fixture
def events(forum: SessionForum) -> Iterator[list[ForumEvent]]:
    seen: list[ForumEvent] = []
    forum.forum.listeners.append(seen.append)
    yield seen
    forum.forum.listeners.remove(seen.append)


@pytest.fixture
def client(forum: SessionForum) -> ForumClient:
    return ForumClient(
        {"url": forum.url, "api_key": forum.api_key, "api_username": forum.api_username}
    )


def api(forum: SessionForum, method: str, path: str, user: str = "system", **kw: Any) -> Any:
    headers = {"Api-Key": forum.api_key, "Api-Username": user}
    return requests.request(method, forum.url + path, headers=headers, timeout=10, **kw)


def tagged_topic(forum: SessionForum, *tags: str) -> int:
    answer = forum.client().create_post(
        BODY, title=f"A topic about {forum.name('x')}", **{"tags[]": list(tags)}
    )
    return int(answer["topic_id"])


def topic_tags(forum: SessionForum, topic_id: int) -> list[str]:
    tags = forum.client()._get(f"/t/{topic_id}.json")["tags"]
    return [t["name"] if isinstance(t, dict) else t for t in tags]


def test_rename_moves_topics_and_groups_and_emits_tag_updated(
    forum: SessionForum, client: ForumClient, events: list[ForumEvent]
) -> None:
    old, new = forum.name("old"), forum.name("new")
    topic_id = tagged_topic(forum, old)
    group = client.create_tag_group(forum.name("g"), [old])
    answer = api(forum, "PUT", f"/tag/{old}.json", json={"tag": {"id": new.upper() + " "}})
    assert answer.status_code == 200
    assert answer.json() == {"tag": {"id": new, "description": None}}  # cleaned
    assert topic_tags(forum, topic_id) == [new]
    assert next(g for g in client.tag_groups() if g.id == group.id).tag_names == (new,)
    updated = [e for e in events if e.event_name == "tag_updated"]
    assert [e.payload["name"] for e in updated] == [new]
    assert set(updated[0].payload) == {"id", "name", "topic_count", "staff", "description"}


def test_rename_errors(forum: SessionForum, client: ForumClient) -> None:
    first, second = forum.name("a"), forum.name("b")
    tagged_topic(forum, first, second)
    assert (
        api(forum, "PUT", f"/tag/{forum.name('none')}.json", data={"tag[id]": "x"}).json()[
            "error_type"
        ]
        == "not_found"
    )
    taken = api(forum, "PUT", f"/tag/{first}.json", data={"tag[id]": second})
    assert taken.status_code == 422
    assert taken.json() == {
        "errors": ["Name has already been taken"],
        "error_type": "record_invalid",
    }
    with pytest.raises(InvalidRequest):
        client.rename_tag(first, second)
    with pytest.raises(NotFound):
        client.rename_tag(forum.name("none"), forum.name("x"))
    member = forum.name("u")
    forum.client().create_user(
        "M", member, f"{member}@example.org", "a-long-password", active="true"
    )
    with pytest.raises(PermissionDenied):
        client.acting_as(member).rename_tag(first, forum.name("c"))
    assert client.rename_tag(first, first) == first  # the same name: nothing changes


def test_synonyms_move_topics_to_the_target_and_show_in_info(
    forum: SessionForum, client: ForumClient
) -> None:
    target, existing, fresh = forum.name("tg"), forum.name("ex"), forum.name("fr")
    topic_id = tagged_topic(forum, existing)
    tagged_topic(forum, target)
    client.create_tag_group(forum.name("g"), [target])
    assert client.add_tag_synonyms(target, [existing, fresh]) == {}
    assert topic_tags(forum, topic_id) == [target]
    # A topic given a synonym later carries its target.
    assert topic_tags(forum, tagged_topic(forum, fresh)) == [target]
    info = client.tag_info(target)
    assert info is not None
    assert {s["name"] for s in info["synonyms"]} == {existing, fresh}
    assert info["topic_count"] == 3
    assert len(info["tag_group_names"]) == 1
    assert info["category_ids"] == [] and info["category_restricted"] is False
    listed = {t["name"]: t for t in api(forum, "GET", "/tags.json").json()["tags"]}
    assert listed[fresh]["target_tag"] == target and listed[target]["target_tag"] is None
    assert client.tag_info(forum.name("none")) is None


def test_synonym_failures_are_named(forum: SessionForum, client: ForumClient) -> None:
    target, other, its_synonym = forum.name("tg"), forum.name("ot"), forum.name("sy")
    tagged_topic(forum, target, other)
    client.add_tag_synonyms(other, [its_synonym])
    # The target's own name is dropped, as Discourse does.
    answer = api(forum, "POST", f"/tag/{target}/synonyms.json", data={"synonyms[]": [target]})
    assert answer.json() == {"success": "OK"}
    assert (client.tag_info(target) or {})["synonyms"] == []
    failed = client.add_tag_synonyms(target, [other])  # it has a synonym of its own
    assert list(failed) == [other] and "synonym" in failed[other]
    missing = api(
        forum, "POST", f"/tag/{forum.name('none')}/synonyms.json", data={"synonyms[]": ["a"]}
    )
    assert missing.status_code == 404
