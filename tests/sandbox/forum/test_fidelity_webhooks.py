"""Fidelity of the sandbox's webhooks against deliveries recorded from real Discourse sites.

For every recording in ``tests/fixtures/discourse/real`` the sandbox is made to do the same
thing (create a post like the recorded one, edit it, delete it, like it, accept it...) and
its delivery is compared with the recording:

* the event name and type, in the body's root key and in the headers;
* the header names (as far as the recording kept them) and what their values must be;
* the body's keys and JSON types, recursively (``shapes``), with every difference either
  fixed in the sandbox or named with its reason in ``fidelity_allowances``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sandbox.forum import fidelity_allowances as allow
from tests.sandbox.forum.fidelity_world import SPEC_SECRET, TAGS, World, running_world, unique
from tests.sandbox.forum.receivers import Received
from tests.sandbox.forum.recordings import Delivery, delivery, delivery_names
from tests.sandbox.forum.shapes import differences, learn, unexplained
from webhooks.incoming.discourse_events import READ


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    yield from running_world()


def _post_id(post_id: int) -> Callable[[Any], bool]:
    return lambda payload: payload.get("id") == post_id


def _topic_id(topic_id: int) -> Callable[[Any], bool]:
    return lambda payload: payload.get("id") == topic_id


# ---- the same action as the recording, one function per kind of recording ----------------


def post_created(w: World, rec: Delivery, signed: bool) -> Received:
    since = w.mark()
    post = w.post_like(rec.payload)
    return w.delivered(since, "post_created", signed=signed, where=_post_id(post["id"]))


def post_edited(w: World, rec: Delivery, signed: bool) -> Received:
    post = w.post_like(rec.payload)
    since = w.mark()
    w.call(
        "PUT",
        f"/posts/{post['id']}.json",
        user=w.alice,
        data={"post[raw]": "An edited text, long enough for the forum.", "post[edit_reason]": ""},
    )
    return w.delivered(since, "post_edited", signed=signed, where=_post_id(post["id"]))


def post_destroyed(w: World, rec: Delivery, signed: bool) -> Received:
    post = w.post_like(rec.payload)
    since = w.mark()
    w.call("DELETE", f"/posts/{post['id']}.json", user=w.alice)
    return w.delivered(since, "post_destroyed", signed=signed, where=_post_id(post["id"]))


def post_recovered(w: World, rec: Delivery, signed: bool) -> Received:
    post = w.post_like(rec.payload)
    w.call("DELETE", f"/posts/{post['id']}.json", user=w.alice)
    since = w.mark()
    w.call("PUT", f"/posts/{post['id']}/recover.json")
    return w.delivered(since, "post_recovered", signed=signed, where=_post_id(post["id"]))


def _tags(rec: Delivery) -> list[str]:
    return list(TAGS) if rec.payload.get("tags") else []


def topic_created(w: World, rec: Delivery, signed: bool) -> Received:
    since = w.mark()
    first = w.topic(w.alice, tags=_tags(rec))
    return w.delivered(since, "topic_created", signed=signed, where=_topic_id(first["topic_id"]))


def topic_edited(w: World, rec: Delivery, signed: bool) -> Received:
    first = w.topic(w.alice, tags=_tags(rec))
    since = w.mark()
    w.call("PUT", f"/t/-/{first['topic_id']}.json", data={"title": "A new title for the topic"})
    return w.delivered(since, "topic_edited", signed=signed, where=_topic_id(first["topic_id"]))


def topic_destroyed(w: World, rec: Delivery, signed: bool) -> Received:
    first = w.topic(w.alice, tags=_tags(rec))
    since = w.mark()
    w.call("DELETE", f"/t/{first['topic_id']}.json")
    return w.delivered(since, "topic_destroyed", signed=signed, where=_topic_id(first["topic_id"]))


def topic_recovered(w: World, rec: Delivery, signed: bool) -> Received:
    first = w.topic(w.alice, tags=_tags(rec))
    w.call("DELETE", f"/t/{first['topic_id']}.json")
    since = w.mark()
    w.call("PUT", f"/t/{first['topic_id']}/recover.json")
    return w.delivered(since, "topic_recovered", signed=signed, where=_topic_id(first["topic_id"]))


def post_liked(w: World, rec: Delivery, signed: bool) -> Received:
    post = w.post_like(rec.payload["post"])
    since = w.mark()
    w.call(
        "POST", "/post_actions.json", user=w.bob, data={"id": post["id"], "post_action_type_id": 2}
    )
    return w.delivered(
        since, "post_liked", signed=signed, where=lambda p: p["post"]["id"] == post["id"]
    )


def accepted_solution(w: World, rec: Delivery, signed: bool) -> Received:
    post = w.post_like(rec.payload)
    since = w.mark()
    w.call("POST", "/solution/accept.json", user=w.bob, data={"id": post["id"]})
    return w.delivered(since, "accepted_solution", signed=signed, where=_post_id(post["id"]))


def topic_closed_status_updated(w: World, rec: Delivery, signed: bool) -> Received:
    first = w.topic(w.alice, tags=_tags(rec))
    since = w.mark()
    w.call(
        "PUT", f"/t/{first['topic_id']}/status.json", data={"status": "closed", "enabled": "true"}
    )
    return w.delivered(
        since, "topic_closed_status_updated", signed=signed, where=_topic_id(first["topic_id"])
    )


def _category(w: World, parent: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": unique("Fidelity "), "color": "0088CC"}
    if parent:
        data["parent_category_id"] = parent
    made: dict[str, Any] = w.call("POST", "/categories.json", data=data)["category"]
    return made


def category_created(w: World, rec: Delivery, signed: bool) -> Received:
    # parent_category_id is sent only for a subcategory: make one if the recording is one.
    parent = _category(w)["id"] if rec.payload.get("parent_category_id") else None
    since = w.mark()
    made = {"category": _category(w, parent)}
    return w.delivered(
        since, "category_created", signed=signed, where=_topic_id(made["category"]["id"])
    )


def tag_created(w: World, rec: Delivery, signed: bool) -> Received:
    name = unique("fresh-")
    since = w.mark()
    w.topic("system", tags=[name])  # staff may create a tag by using it
    return w.delivered(since, "tag_created", signed=signed, where=lambda p: p["name"] == name)


def _named(username: str) -> Callable[[Any], bool]:
    return lambda payload: payload.get("username") == username


def user_created(w: World, rec: Delivery, signed: bool) -> Received:
    since = w.mark()
    username = w.new_user("dave")
    return w.delivered(since, "user_created", signed=signed, where=_named(username))


def user_updated(w: World, rec: Delivery, signed: bool) -> Received:
    username = w.new_user("erin")
    since = w.mark()
    w.call("PUT", f"/u/{username}.json", user=username, data={"name": "Erin Renamed"})
    return w.delivered(since, "user_updated", signed=signed, where=_named(username))


def _grant(w: World, username: str) -> dict[str, Any]:
    badge = w.call(
        "POST", "/admin/badges.json", data={"name": unique("Fidelity badge "), "badge_type_id": 3}
    )["badge"]
    granted: dict[str, Any] = w.call(
        "POST", "/user_badges.json", data={"username": username, "badge_id": badge["id"]}
    )["user_badge"]
    return granted


def user_badge_granted(w: World, rec: Delivery, signed: bool) -> Received:
    since = w.mark()
    granted = _grant(w, w.alice)
    return w.delivered(since, "user_badge_granted", signed=signed, where=_topic_id(granted["id"]))


def user_badge_revoked(w: World, rec: Delivery, signed: bool) -> Received:
    granted = _grant(w, w.alice)
    since = w.mark()
    w.call("DELETE", f"/user_badges/{granted['id']}.json")
    return w.delivered(since, "user_badge_revoked", signed=signed, where=_topic_id(granted["id"]))


def _group(w: World) -> int:
    made = w.call("POST", "/admin/groups.json", data={"group[name]": unique("fidelity_")})
    return int(made["basic_group"]["id"])


def _membership(group_id: int) -> Callable[[Any], bool]:
    return lambda payload: payload["group_id"] == group_id


def user_added_to_group(w: World, rec: Delivery, signed: bool) -> Received:
    group_id = _group(w)
    since = w.mark()
    w.call("PUT", f"/groups/{group_id}/members.json", data={"usernames": w.bob})
    return w.delivered(since, "user_added_to_group", signed=signed, where=_membership(group_id))


def user_removed_from_group(w: World, rec: Delivery, signed: bool) -> Received:
    group_id = _group(w)
    w.call("PUT", f"/groups/{group_id}/members.json", data={"usernames": w.bob})
    since = w.mark()
    w.call("DELETE", f"/groups/{group_id}/members.json", data={"usernames": w.bob})
    return w.delivered(since, "user_removed_from_group", signed=signed, where=_membership(group_id))


def ping(w: World, rec: Delivery, signed: bool) -> Received:
    since = w.mark()
    hook = w.signed_hook if signed else w.unsigned_hook
    w.call("POST", f"/admin/api/web_hooks/{hook}/ping.json")
    return w.delivered(since, "ping", signed=signed)


ACTIONS: dict[str, Callable[[World, Delivery, bool], Received]] = {
    "post_created": post_created,
    "post_edited": post_edited,
    "post_destroyed": post_destroyed,
    "post_recovered": post_recovered,
    "topic_created": topic_created,
    "topic_edited": topic_edited,
    "topic_destroyed": topic_destroyed,
    "topic_recovered": topic_recovered,
    "post_liked": post_liked,
    "accepted_solution": accepted_solution,
    "topic_closed_status_updated": topic_closed_status_updated,
    "category_created": category_created,
    "tag_created": tag_created,
    "user_created": user_created,
    "user_updated": user_updated,
    "user_badge_granted": user_badge_granted,
    "user_badge_revoked": user_badge_revoked,
    "user_added_to_group": user_added_to_group,
    "user_removed_from_group": user_removed_from_group,
    "ping": ping,
}


def sendable() -> list[str]:
    """The recordings of events the sandbox sends (``allow.NOT_SENT`` says why not the rest)."""
    return [n for n in delivery_names() if delivery(n).event not in allow.NOT_SENT]


def test_every_recorded_event_has_an_action() -> None:
    assert {delivery(name).event for name in sendable()} <= set(ACTIONS)
    # Only names the service ignores may go unsent.
    assert not set(allow.NOT_SENT) & set(READ)


# ---- the comparison ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sent(world: World) -> dict[str, Received]:
    """The sandbox's delivery for each recording, made once and shared by the tests."""
    made = {}
    for name in sendable():
        rec = delivery(name)
        signed = rec.header("X-Discourse-Event-Signature") is not None
        made[name] = ACTIONS[rec.event](world, rec, signed)
    return made


@pytest.mark.parametrize("name", sendable())
def test_event_name_and_type_are_the_recorded_ones(name: str, sent: dict[str, Received]) -> None:
    rec, mine = delivery(name), sent[name]
    assert list(mine.json) == [rec.event_type]
    assert mine.headers["x-discourse-event-type"] == rec.event_type
    assert mine.headers["x-discourse-event"] == rec.event
    for header in ("X-Discourse-Event", "X-Discourse-Event-Type"):
        if rec.header(header) is not None:
            assert mine.headers[header.lower()] == rec.header(header)


@pytest.mark.parametrize("name", sendable())
def test_header_names_are_the_recorded_ones(name: str, sent: dict[str, Received]) -> None:
    rec, mine = delivery(name), sent[name]
    recorded = rec.header_names() - allow.PROXY_HEADERS
    kept = allow.HEADERS_KEPT[rec.site]
    names = set(mine.headers)
    if kept == "all":
        assert names - set(allow.HEADERS_NOT_RECORDED) == recorded
    elif kept == "x-discourse":
        assert {n for n in names if n.startswith("x-discourse-")} == recorded
    else:
        assert recorded <= names


@pytest.mark.parametrize("name", sendable())
def test_header_values_are_as_discourse_sends_them(name: str, sent: dict[str, Received]) -> None:
    rec, mine = delivery(name), sent[name]
    headers = mine.headers
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(mine.body))
    assert headers["x-discourse-instance"].startswith("http://127.0.0.1:")
    assert int(headers["x-discourse-event-id"]) > 0
    product, _, url = headers["user-agent"].partition("; ")
    version, _, sha = product.removeprefix("Discourse/").partition("-")
    assert product.startswith("Discourse/") and version and len(sha) == 40
    assert url == "+https://www.discourse.org/"
    if "x-discourse-event-signature" in rec.header_names():
        expected = hmac.new(SPEC_SECRET.encode(), mine.body, hashlib.sha256).hexdigest()
        assert headers["x-discourse-event-signature"] == f"sha256={expected}"
    else:
        assert "x-discourse-event-signature" not in headers


def test_the_ping_is_the_spec_s_bytes_and_signature(sent: dict[str, Received]) -> None:
    rec = delivery("ping__ping__discourse-spec")
    mine = sent[rec.name]
    assert mine.body == rec.raw_body == b'{"ping":"OK"}'
    assert mine.headers["x-discourse-event-signature"] == rec.header("X-Discourse-Event-Signature")


@pytest.mark.parametrize("name", [n for n in sendable() if delivery(n).raw_body])
def test_bodies_are_compact_json_like_the_recorded_bytes(
    name: str, sent: dict[str, Received]
) -> None:
    mine = sent[name].body
    assert mine == json.dumps(json.loads(mine), ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("name", sendable())
def test_body_keys_and_types_are_the_recorded_ones(name: str, sent: dict[str, Received]) -> None:
    rec, mine = delivery(name), sent[name]
    found = differences(learn(rec.body), mine.json)
    left = unexplained(found, allow.for_delivery(rec))
    assert not left, f"{name}:\n" + "\n".join(map(str, left))
