"""Webhooks from the forum sandbox, received by an independent stdlib server.

Everything is done the way a real client would: hooks through the admin API, forum actions
through pydiscourse. Deliveries are asynchronous, so each test drains the queue first.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import DiscourseClientError

from sandbox.forum import webhooks
from sandbox.forum.server import ForumServer
from tests.clocks import FakeClock
from tests.conftest import UNTHROTTLED
from tests.sandbox.forum.receivers import Receiver


def words(text: str) -> set[str]:
    return set(text.split())


FACTS_SECRET = "my_lovely_secret_for_web_hook"
FACTS_SIGNATURE = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
HEADER_NAMES = {
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "user-agent",
    "x-discourse-instance",
    "x-discourse-event-id",
    "x-discourse-event-type",
    "x-discourse-event",
}
# Key sets from the facts doc: WebHookPostSerializer, WebHookTopicViewSerializer and
# WebHookUserSerializer (the user's list is the part every version sends).
POST_KEYS = words(
    "id name username avatar_template created_at cooked post_number post_type posts_count "
    "updated_at reply_count reply_to_post_number quote_count incoming_link_count reads score "
    "topic_id topic_slug topic_title category_id display_username primary_group_name flair_name "
    "flair_group_id version user_title bookmarked raw moderator admin staff user_id hidden "
    "trust_level deleted_at user_deleted edit_reason wiki reviewable_id reviewable_score_count "
    "reviewable_score_pending_count post_url topic_posts_count topic_filtered_posts_count "
    "topic_archetype category_slug"
)
TOPIC_KEYS = words(
    "id title fancy_title posts_count created_at views reply_count like_count last_posted_at "
    "visible closed archived archetype slug category_id word_count deleted_at user_id "
    "featured_link pinned_globally pinned_at pinned_until unpinned pinned highest_post_number "
    "deleted_by bookmarked participant_count created_by last_poster tags tags_descriptions "
    "thumbnails"
)
USER_KEYS = words(
    "id username name avatar_template email last_posted_at last_seen_at created_at trust_level "
    "moderator admin title badge_count post_count groups user_option"
)
Hooks = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def server() -> Iterator[ForumServer]:
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as running:
        yield running


def client(server: ForumServer, username: str | None = None) -> DiscourseClient:
    return DiscourseClient(
        server.url, api_username=username or server.api_username, api_key=server.api_key, timeout=10
    )


@pytest.fixture
def admin(server: ForumServer) -> DiscourseClient:
    return client(server)


@pytest.fixture
def hooks(server: ForumServer, admin: DiscourseClient) -> Iterator[Hooks]:
    """Create hooks through the admin API; they are deleted after the test."""
    created: list[int] = []

    def create(url: str, **fields: Any) -> dict[str, Any]:
        form = {"web_hook[payload_url]": url, "web_hook[active]": "true"}
        for name, value in fields.items():
            key = f"web_hook[{name}][]" if isinstance(value, list) else f"web_hook[{name}]"
            form[key] = value
        hook: dict[str, Any] = admin._post("/admin/api/web_hooks.json", **form)["web_hook"]
        created.append(hook["id"])
        return hook

    yield create
    assert webhooks.drain(server.forum)
    for hook_id in created:
        admin._delete(f"/admin/api/web_hooks/{hook_id}.json")


@pytest.fixture
def clock(server: ForumServer) -> Iterator[FakeClock]:
    deliverer = webhooks.deliverer_for(server.forum)
    fake = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    real = deliverer.clock
    deliverer.clock = fake
    yield fake
    deliverer.clock = real


@pytest.fixture
def retries(admin: DiscourseClient) -> Iterator[None]:
    admin.site_settings(retry_web_hook_events="true")
    yield
    admin.site_settings(retry_web_hook_events="false")


def drain(server: ForumServer) -> None:
    assert webhooks.drain(server.forum, timeout=15)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_category(admin: DiscourseClient) -> int:
    category: dict[str, Any] = admin.create_category(unique("Hooks "), "0088CC")["category"]
    return int(category["id"])


def new_user(admin: DiscourseClient) -> str:
    username = unique("u")
    admin.create_user(
        username, username, f"{username}@example.com", uuid.uuid4().hex, active="true"
    )
    return username


def new_topic(admin: DiscourseClient, category_id: int) -> dict[str, Any]:
    post: dict[str, Any] = admin.create_post(
        "The opening post of a topic about webhooks.",
        category_id=category_id,
        title=f"A topic about webhooks {uuid.uuid4().hex[:8]}",
    )
    return post


def event_log(admin: DiscourseClient, hook_id: int, status: str = "") -> list[dict[str, Any]]:
    params = {"status": status} if status else {}
    page = admin._get(f"/admin/api/web_hook_events/{hook_id}.json", **params)
    events: list[dict[str, Any]] = page["web_hook_events"]
    return events


# ---- headers, signature, body ---------------------------------------------------------------


def test_ping_carries_discourse_headers_and_the_facts_signature(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    with Receiver() as receiver:
        hook = hooks(receiver.url, secret=FACTS_SECRET, content_type=1)
        assert admin._post(f"/admin/api/web_hooks/{hook['id']}/ping") == {"success": "OK"}
        drain(server)

    [ping] = receiver.requests
    assert ping.body == b'{"ping":"OK"}'
    assert ping.signature_valid(FACTS_SECRET)
    headers = ping.headers
    assert headers["x-discourse-event-signature"] == FACTS_SIGNATURE
    assert set(headers) == HEADER_NAMES | {"x-discourse-event-signature"}
    assert headers["accept"] == "*/*"
    assert headers["connection"] == "close"
    assert headers["content-length"] == "13"
    assert headers["content-type"] == "application/json"
    assert headers["host"] == "127.0.0.1"
    assert headers["user-agent"].startswith("Discourse/")
    assert headers["x-discourse-instance"] == server.url
    assert headers["x-discourse-event-type"] == "ping"
    assert headers["x-discourse-event"] == "ping"
    [logged] = event_log(admin, hook["id"])
    assert logged["id"] == ping.event_id
    assert logged["status"] == 200
    assert logged["request_body"] == '{"ping":"OK"}'


def test_form_content_type_keeps_the_json_body_and_no_secret_means_no_signature(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    with Receiver() as receiver:
        hook = hooks(receiver.url, content_type=2)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        drain(server)

    [ping] = receiver.requests
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert ping.json == {"ping": "OK"}
    assert set(ping.headers) == HEADER_NAMES


def test_hook_management_through_the_admin_api(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    hook = hooks("https://example.com/hooks")
    assert {t["name"] for t in hook["web_hook_event_types"]} == {
        "post_created",
        "post_edited",
        "post_destroyed",
        "post_recovered",
    }
    assert {t["id"] for t in hook["web_hook_event_types"]} == {201, 202, 203, 204}

    with pytest.raises(DiscourseClientError) as short:
        hooks("https://example.com/x", secret="too-short")
    assert short.value.response.status_code == 422
    assert "Secret is too short (minimum is 12 characters)" in short.value.response.json()["errors"]
    with pytest.raises(DiscourseClientError) as bad_url:
        hooks("ftp://example.com/x")
    assert bad_url.value.response.status_code == 422

    changed = admin._put(
        f"/admin/api/web_hooks/{hook['id']}.json",
        json=True,
        web_hook={"web_hook_event_type_ids": [101, 1501], "active": False},
    )["web_hook"]
    assert [t["name"] for t in changed["web_hook_event_types"]] == ["topic_created", "post_liked"]
    assert changed["active"] is False
    listed = admin._get("/admin/api/web_hooks.json")["web_hooks"]
    assert hook["id"] in {h["id"] for h in listed}

    user = new_user(admin)
    with pytest.raises(DiscourseClientError) as forbidden:
        client(server, user)._get("/admin/api/web_hooks.json")
    assert forbidden.value.response.status_code == 403


# ---- what fires when --------------------------------------------------------------------------


def test_topic_lifecycle_events_and_payloads(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    category_id = new_category(admin)
    with Receiver() as receiver:
        hooks(receiver.url, wildcard_web_hook="true", category_ids=[category_id], secret="s" * 16)
        first = new_topic(admin, category_id)
        drain(server)
        assert receiver.events() == ["topic_created", "post_created"]
        topic_body, post_body = (
            r.json for r in sorted(receiver.requests, key=lambda r: r.event_id)
        )
        assert set(topic_body) == {"topic"} and set(topic_body["topic"]) >= TOPIC_KEYS
        assert set(post_body) == {"post"} and set(post_body["post"]) >= POST_KEYS
        assert post_body["post"]["post_number"] == 1
        assert [r.headers["x-discourse-event-type"] for r in receiver.requests] == [
            r.event.split("_")[0] for r in receiver.requests
        ]
        assert all(r.signature_valid("s" * 16) for r in receiver.requests)

        receiver.requests.clear()
        admin._put(
            f"/posts/{first['id']}.json",
            **{
                "post[raw]": "The opening post, edited along with its title.",
                "title": unique("Renamed topic about hooks "),
            },
        )
        drain(server)
        assert receiver.events() == ["topic_edited"]

        receiver.requests.clear()
        admin.update_post(first["id"], "The opening post, edited without any topic change.")
        reply = admin.create_post(
            "A reply to the topic about webhooks.", topic_id=first["topic_id"]
        )
        drain(server)
        assert receiver.events() == ["post_edited", "post_created"]

        receiver.requests.clear()
        admin._delete(f"/posts/{reply['id']}.json")
        admin._put(f"/posts/{reply['id']}/recover.json")
        drain(server)
        assert receiver.events() == ["post_destroyed", "post_recovered"]
        destroyed = sorted(receiver.requests, key=lambda r: r.event_id)[0].json["post"]
        assert destroyed["deleted_at"] is not None


def test_like_solution_user_badge_and_group_events(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    category_id = new_category(admin)
    with Receiver() as receiver:
        hooks(receiver.url, wildcard_web_hook="true")
        username = new_user(admin)
        drain(server)
        assert "user_created" in receiver.events()
        created = next(r for r in receiver.requests if r.event == "user_created")
        assert created.headers["x-discourse-event-type"] == "user"
        assert set(created.json["user"]) >= USER_KEYS
        assert created.json["user"]["username"] == username

        topic = new_topic(admin, category_id)
        reply = client(server, username).create_post(
            "A helpful reply that solves the problem.", topic_id=topic["topic_id"]
        )
        receiver.requests.clear()
        client(server, username)._post("/post_actions.json", id=topic["id"], post_action_type_id=2)
        admin._post("/solution/accept.json", id=reply["id"])
        drain(server)
        by_event = {r.event: r for r in receiver.requests}
        assert by_event["post_liked"].headers["x-discourse-event-type"] == "like"
        assert by_event["accepted_solution"].headers["x-discourse-event-type"] == "solved"

        badge = admin._post(
            "/admin/badges.json", name=unique("Helper "), badge_type_id=3, multiple_grant="false"
        )["badge"]
        receiver.requests.clear()
        admin.grant_badge_to(username, badge_id=badge["id"])
        admin.grant_badge_to(username, badge_id=badge["id"])
        drain(server)
        granted = [r for r in receiver.requests if r.event == "user_badge_granted"]
        assert len(granted) == 1
        assert granted[0].headers["x-discourse-event-type"] == "user_badge"

        group = admin.create_group(name=unique("hg"))["basic_group"]
        receiver.requests.clear()
        admin.add_group_member(group["id"], username)
        drain(server)
        [added] = [r for r in receiver.requests if r.event == "user_added_to_group"]
        assert added.headers["x-discourse-event-type"] == "group_user"


def test_category_filter_and_subscriptions(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    watched, other = new_category(admin), new_category(admin)
    with Receiver() as receiver:
        hooks(receiver.url, web_hook_event_type_ids=[101], category_ids=[watched])
        new_topic(admin, other)
        new_topic(admin, watched)
        drain(server)
    [only] = receiver.requests
    assert only.event == "topic_created"
    assert only.json["topic"]["category_id"] == watched


def test_tag_filter(server: ForumServer, admin: DiscourseClient, hooks: Hooks) -> None:
    category_id = new_category(admin)
    tag = unique("t")
    with Receiver() as receiver:
        hooks(receiver.url, web_hook_event_type_ids=[101], tag_names=[tag])
        new_topic(admin, category_id)
        tagged = admin.create_post(
            "The opening post of a tagged topic about hooks.",
            category_id=category_id,
            title=unique("A tagged topic about webhooks "),
            tags=[tag],
        )
        drain(server)
    [only] = receiver.requests
    assert only.json["topic"]["id"] == tagged["topic_id"]


def test_group_filter(server: ForumServer, admin: DiscourseClient, hooks: Hooks) -> None:
    watched = admin.create_group(name=unique("hg"))["basic_group"]
    other = admin.create_group(name=unique("hg"))["basic_group"]
    username = new_user(admin)
    with Receiver() as receiver:
        hooks(receiver.url, web_hook_event_type_ids=[1401], group_ids=[watched["id"]])
        admin.add_group_member(other["id"], username)
        admin.add_group_member(watched["id"], username)
        drain(server)
    [only] = receiver.requests
    assert only.event == "user_added_to_group"
    assert only.json["group_user"]["group_id"] == watched["id"]


def test_inactive_hooks_receive_nothing(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    category_id = new_category(admin)
    with Receiver() as receiver:
        hooks(receiver.url, wildcard_web_hook="true", category_ids=[category_id], active="false")
        new_topic(admin, category_id)
        drain(server)
    assert receiver.requests == []


# ---- redelivery and retries -------------------------------------------------------------------


def test_redelivery_resends_the_same_event(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks
) -> None:
    with Receiver(500, 500) as receiver:
        hook = hooks(receiver.url, secret=FACTS_SECRET)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        drain(server)
        [first] = receiver.requests
        again = admin._post(f"/admin/api/web_hooks/{hook['id']}/events/{first.event_id}/redeliver")[
            "web_hook_event"
        ]
        queued = admin._post(f"/admin/api/web_hooks/{hook['id']}/events/failed_redeliver")
        drain(server)

    assert again["id"] == first.event_id and again["status"] == 500
    assert queued["event_ids"] == [first.event_id]
    assert len(receiver.requests) == 3
    for later in receiver.requests[1:]:
        assert later.event_id == first.event_id
        assert later.body == first.body
        assert later.headers["x-discourse-event-signature"] == FACTS_SIGNATURE
    [logged] = event_log(admin, hook["id"])
    assert logged["status"] == 200
    assert event_log(admin, hook["id"], "failed") == []


@pytest.mark.usefixtures("retries")
def test_failed_deliveries_retry_after_1_5_25_125_minutes(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks, clock: FakeClock
) -> None:
    with Receiver(default=500) as receiver:
        hook = hooks(receiver.url, secret=FACTS_SECRET)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        drain(server)
        assert len(receiver.requests) == 1
        for minutes in (1, 5, 25, 125):
            clock.advance(minutes=minutes, seconds=-1)
            drain(server)
            before = len(receiver.requests)
            clock.advance(seconds=1)
            drain(server)
            assert len(receiver.requests) == before + 1
        clock.advance(days=30)
        drain(server)

    assert len(receiver.requests) == 5
    ids = [r.event_id for r in receiver.requests]
    assert len(set(ids)) == 5 and ids == sorted(ids)
    assert {r.body for r in receiver.requests} == {b'{"ping":"OK"}'}
    assert {r.headers["x-discourse-event-signature"] for r in receiver.requests} == {
        FACTS_SIGNATURE
    }
    assert [e["status"] for e in event_log(admin, hook["id"], "failed")] == [500] * 5


def test_no_retries_when_the_setting_is_off(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks, clock: FakeClock
) -> None:
    with Receiver(default=500) as receiver:
        hook = hooks(receiver.url)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        drain(server)
        clock.advance(days=1)
        drain(server)
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("retries")
def test_transport_errors_are_recorded_and_never_retried(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks, clock: FakeClock
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    hook = hooks(f"http://127.0.0.1:{port}/nobody-listens")
    admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
    drain(server)
    clock.advance(days=1)
    drain(server)
    [logged] = event_log(admin, hook["id"])
    assert logged["status"] == -1


@pytest.mark.usefixtures("retries")
def test_gone_receivers_are_not_retried_and_deactivate_the_hook_after_four_retries(
    server: ForumServer, admin: DiscourseClient, hooks: Hooks, clock: FakeClock
) -> None:
    with Receiver(404) as receiver:
        hook = hooks(receiver.url)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        drain(server)
        clock.advance(days=1)
        drain(server)
    assert len(receiver.requests) == 1
    assert admin._get(f"/admin/api/web_hooks/{hook['id']}.json")["web_hook"]["active"] is True

    with Receiver(500, 500, 500, 500, 410) as receiver:
        hook = hooks(receiver.url)
        admin._post(f"/admin/api/web_hooks/{hook['id']}/ping")
        for _ in range(5):
            drain(server)
            clock.advance(days=1)
        drain(server)
    assert len(receiver.requests) == 5
    assert admin._get(f"/admin/api/web_hooks/{hook['id']}.json")["web_hook"]["active"] is False
