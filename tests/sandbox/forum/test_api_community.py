"""Users, groups, badges, likes and solutions through pydiscourse, and the events they emit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydiscourse.exceptions import DiscourseClientError

from sandbox.forum.state import ForumEvent
from tests.conftest import SessionForum

BODY = "A body that is comfortably longer than twenty characters."


@pytest.fixture
def events(forum: SessionForum) -> Iterator[list[ForumEvent]]:
    seen: list[ForumEvent] = []
    forum.forum.listeners.append(seen.append)
    yield seen
    forum.forum.listeners.remove(seen.append)


def make_user(forum: SessionForum) -> str:
    username = forum.name("u")
    forum.client().create_user(
        "Some One", username, f"{username}@example.org", "a-long-password", active="true"
    )
    return username


def test_user_created_and_profile(forum: SessionForum, events: list[ForumEvent]) -> None:
    username = make_user(forum)
    assert [e.event_name for e in events] == ["user_created"]
    profile = forum.client()._get(f"/u/{username}.json")["user"]
    assert profile["username"] == username
    assert "trust_level_0" in [g["name"] for g in profile["groups"]]
    found = forum.client().user_by_email(f"{username}@example.org")
    assert [u["username"] for u in found] == [username]


def test_group_membership(forum: SessionForum, events: list[ForumEvent]) -> None:
    username = make_user(forum)
    name = forum.name("g")
    group = forum.client().create_group(name)["basic_group"]
    forum.client().add_group_member(group["id"], username)
    with pytest.raises(DiscourseClientError) as again:
        forum.client().add_group_member(group["id"], username)
    assert again.value.response.status_code == 422
    members = forum.client().group_members(name)
    assert [m["username"] for m in members] == [username]
    assert events[-1].event_name == "user_added_to_group"
    assert events[-1].group_ids == (group["id"],)
    user = forum.forum.user_by_username(username)
    assert user is not None and name in forum.forum.user_group_names(user)


def test_likes_and_solutions(forum: SessionForum, events: list[ForumEvent]) -> None:
    author, fan = make_user(forum), make_user(forum)
    topic = forum.client(author).create_post(BODY, title=f"Question {forum.name()}")
    answer = forum.client(fan).create_post(BODY, topic_id=topic["topic_id"])
    with pytest.raises(DiscourseClientError) as own:
        forum.client(author)._post("/post_actions.json", id=topic["id"], post_action_type_id=2)
    assert own.value.response.status_code == 403
    forum.client(author)._post("/post_actions.json", id=answer["id"], post_action_type_id=2)
    with pytest.raises(DiscourseClientError):
        forum.client(author)._post("/post_actions.json", id=answer["id"], post_action_type_id=2)
    forum.client(author)._post("/solution/accept.json", id=answer["id"])
    view = forum.client().topic(topic["topic_slug"], topic["topic_id"])
    assert view["like_count"] == 1
    assert view["accepted_answer"]["post_number"] == 2
    names = [e.event_name for e in events]
    assert names[-2:] == ["post_liked", "accepted_solution"]


def test_badges(forum: SessionForum, events: list[ForumEvent]) -> None:
    username = make_user(forum)
    client = forum.client()
    badge = client._post("/admin/badges.json", name=forum.name("Badge "), badge_type_id=3)["badge"]
    first = client.grant_badge_to(username, badge["id"])
    second = client.grant_badge_to(username, badge["id"])
    assert first["user_badge"]["id"] == second["user_badge"]["id"]
    assert [e.event_name for e in events].count("user_badge_granted") == 1
    with pytest.raises(DiscourseClientError) as bad_reason:
        client.grant_badge_to(username, badge["id"], reason="https://elsewhere.example/t/x/1")
    assert bad_reason.value.response.status_code == 400
    mine = client.user_badges(username)
    assert [b["id"] for b in mine["badges"]] == [badge["id"]]


def test_topic_events_follow_discourse_rules(forum: SessionForum, events: list[ForumEvent]) -> None:
    client = forum.client()
    topic = client.create_post(BODY, title=f"Events {forum.name()}")
    assert [(e.event_type, e.event_name) for e in events] == [
        ("topic", "topic_created"),
        ("post", "post_created"),
    ]
    events.clear()
    client.update_topic(f"/t/{topic['topic_slug']}/{topic['topic_id']}", f"Renamed {forum.name()}")
    client.update_topic_status(topic["topic_id"], "closed", "true")
    client.update_post(topic["id"], BODY + " Changed.")
    assert [e.event_name for e in events] == [
        "topic_edited",
        "topic_closed_status_updated",
        "post_edited",
    ]
    payload = events[-1].payload
    assert payload["raw"].endswith("Changed.") and payload["topic_id"] == topic["topic_id"]
