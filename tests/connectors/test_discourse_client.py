"""The forum connector against the Discourse sandbox: errors, 429 budget, exactly-once topics."""

from __future__ import annotations

import inspect
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from connectors.discourse import ForumClient
from core import forum_budget
from core.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)
from sandbox.demo import hook_forum_to_service
from sandbox.forum.server import ForumServer
from sandbox.forum.webhook_admin import HOOKS
from sandbox.wiki import free_port
from tests.clocks import forum_time
from tests.conftest import UNTHROTTLED

BODY = "A body long enough for Discourse's twenty character minimum."


def config(forum: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "url": forum.url,
        "api_username": forum.api_username,
        "api_key": forum.api_key,
        "timeout": 10,
        **overrides,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(forum: Any) -> ForumClient:
    return ForumClient(config(forum))


def new_topic(client: ForumClient, **fields: Any) -> int:
    external_id = fields.pop("external_id", unique("t"))
    title = fields.pop("title", f"Connector test topic {external_id}")
    made = client.create_topic(title, BODY, category_id=None, external_id=external_id, **fields)
    return made.topic_id


# -- errors ----------------------------------------------------------------------------------


def test_a_wrong_key_is_permission_denied(forum: Any) -> None:
    bad = ForumClient(config(forum, api_key="not-the-key"))
    with pytest.raises(PermissionDenied) as caught:
        bad.get_topic(1)
    assert caught.value.code == "403"
    assert "API username or key is invalid" in str(caught.value)
    assert bad.request_counts[403] == 1


def test_a_missing_topic_is_not_found(client: ForumClient) -> None:
    with pytest.raises(NotFound):
        client.get_topic(987654321)
    assert client.request_counts[404] == 1


def test_a_refused_topic_says_why_and_is_not_retried(client: ForumClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        client.create_topic("Short", BODY, category_id=None, external_id=unique("short"))
    assert caught.value.code == "422"
    assert "Title is too short" in str(caught.value)
    assert client.request_counts[422] == 1


def test_an_unusable_external_id_fails_before_any_request(client: ForumClient) -> None:
    for bad in ("has space", "x" * 51, "", "slash/no"):
        with pytest.raises(InvalidRequest, match="external_id"):
            client.create_topic("A perfectly fine title", BODY, category_id=None, external_id=bad)
    assert sum(client.request_counts.values()) == 0


def test_a_refused_connection_is_unavailable() -> None:
    closed = ForumClient(
        {
            "url": f"http://127.0.0.1:{free_port()}",
            "api_username": "system",
            "api_key": "k",
            "timeout": 2,
        }
    )
    with pytest.raises(Unavailable):
        closed.ping()


# Every public method and arguments that reach the network.
CALLS: dict[str, tuple[Any, ...]] = {
    "ping": (),
    "create_topic": ("A perfectly fine title", BODY),
    "topic_by_external_id": ("abc",),
    "get_topic": (1,),
    "update_topic": (1,),
    "set_topic_status": (1, "closed", True),
    "reply": (1, BODY),
    "send_message": ("A perfectly fine title", BODY, ["someone"]),
    "get_post": (1,),
    "update_post": (1, BODY),
    "latest_posts": (),
    "like": (1,),
    "accept_solution": (1,),
    "categories": (),
    "create_category": ("Name",),
    "update_category": (1,),
    "set_category_moderators": (1, [3]),
    "tags": (),
    "tag_groups": (),
    "create_tag_group": ("g", ["t"]),
    "update_tag_group": (1,),
    "rename_tag": ("old-name", "new-name"),
    "add_tag_synonyms": ("a-tag", ["another"]),
    "tag_info": ("a-tag",),
    "get_user": ("someone",),
    "admin_user": (1,),
    "user_by_external_id": ("abc",),
    "create_user": ("someone", "Some One", "some@one.example"),
    "list_users": (),
    "groups": (),
    "get_group": ("g",),
    "group_by_id": (5,),
    "create_group": ("g",),
    "group_members": ("g",),
    "badges": (),
    "create_badge": ("b",),
    "grant_badge": ("someone", 1),
    "revoke_badge": (1,),
    "user_badges": ("someone",),
    "site_settings": (),
    "web_hook_urls": (),
    "directory_page": (),
    "likes_given": ("someone",),
    "create_web_hook": ("http://127.0.0.1:9/webhooks/discourse", "a-webhook-secret"),
}
KEYWORDS: dict[str, dict[str, Any]] = {
    "create_topic": {"category_id": None, "external_id": "abc"},
    "update_topic": {"title": "A perfectly fine title"},
    "update_category": {"name": "x"},
    "update_tag_group": {"name": "x"},
    "site_settings": {"title": "x"},
}


def test_every_public_method_leaves_with_our_errors_only() -> None:
    closed = ForumClient(
        {
            "url": f"http://127.0.0.1:{free_port()}",
            "api_username": "system",
            "api_key": "k",
            "timeout": 2,
        }
    )
    public = {
        name
        for name, member in inspect.getmembers(ForumClient, inspect.isfunction)
        if not name.startswith("_") and name != "acting_as"
    }
    public -= {"add_group_members", "remove_group_members"}  # take a Group; covered below
    assert public == set(CALLS)
    for name, args in CALLS.items():
        with pytest.raises(Unavailable):
            getattr(closed, name)(*args, **KEYWORDS.get(name, {}))


# -- 429 ------------------------------------------------------------------------------------


class FakeTime:
    """The sandbox's clock and the client's sleep in one: sleeping moves the forum's time."""

    def __init__(self, *, advance: bool = True) -> None:
        self.moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        self.waits: list[float] = []
        self.advance = advance

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.advance:
            self.moment += timedelta(seconds=seconds)


@pytest.fixture
def slow_forum() -> Iterator[ForumServer]:
    with ForumServer(rate_limit_per_minute=2) as server:
        yield server


def limited_client(server: ForumServer, fake: FakeTime, budget: float) -> ForumClient:
    assert server.forum is not None
    server.forum.clock = fake.now
    return ForumClient(config(server, rate_limit_wait_budget=budget), sleep=fake.sleep)


def test_a_429_waits_what_discourse_asks_then_succeeds(slow_forum: ForumServer) -> None:
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=120)
    with forum_time(fake.now, fake.sleep):
        for _ in range(3):
            client.ping()
    assert fake.waits == [60]  # extras.wait_seconds of the one 429
    assert client.request_counts[429] == 1
    assert client.request_counts[200] == 3


def test_a_429_beyond_the_budget_raises_rate_limited(slow_forum: ForumServer) -> None:
    fake = FakeTime(advance=False)  # the forum stays limited however long we wait
    client = limited_client(slow_forum, fake, budget=100)
    with forum_time(fake.now, fake.sleep):
        client.ping()
        client.ping()
        with pytest.raises(RateLimited) as caught:
            client.ping()
    assert fake.waits == [60]  # a second wait of 60 s would pass the 100 s budget
    assert caught.value.retry_after == 60
    # While the forum's pause lasts no request is sent: the one 429 is all it saw.
    assert client.request_counts[429] == 1


def test_a_429_answered_mid_budget_raises_the_forums_code(slow_forum: ForumServer) -> None:
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=30)
    with forum_time(fake.now, fake.sleep):
        client.ping()
        client.ping()
        with pytest.raises(RateLimited) as caught:
            client.ping()
    assert caught.value.code == "admin_api_key_rate_limit"
    assert fake.waits == []


def test_a_zero_budget_never_sleeps(slow_forum: ForumServer) -> None:
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=0)
    with forum_time(fake.now, fake.sleep):
        client.ping()
        client.ping()
        with pytest.raises(RateLimited):
            client.ping()
    assert fake.waits == []


class ReadWatcher(HTTPAdapter):
    """Records, as each answer's body begins to be read (and its connection is about to go
    back to the pool), how long this process already holds its requests back."""

    def __init__(self, budget: forum_budget.Budget) -> None:
        super().__init__()
        self.budget = budget
        self.held_at_read: list[tuple[int, float]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().send(request, *args, **kwargs)
        read = response.raw.read

        def watched(*read_args: Any, **read_kwargs: Any) -> Any:
            self.held_at_read.append((response.status_code, self.budget.held_for()))
            return read(*read_args, **read_kwargs)

        response.raw.read = watched  # type: ignore[method-assign]
        return response


def test_a_429s_pause_holds_the_process_before_its_answer_is_read(
    slow_forum: ForumServer,
) -> None:
    """Another thread's request must not take the 429's connection back out of the pool
    and send before the pause is known: it is known before that connection is free."""
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=120)
    budget = forum_budget.Budget(
        forum_budget.MemoryLedger(), forum_budget.UNLIMITED, sleep=fake.sleep
    )
    watcher = ReadWatcher(budget)
    client.session.mount(slow_forum.url, watcher)
    with forum_time(fake.now, fake.sleep), forum_budget.using(budget):
        for _ in range(3):
            client.ping()
    refused = [held for status, held in watcher.held_at_read if status == 429]
    assert refused and refused[0] == 60  # Retry-After, before one byte of the body
    assert [held for status, held in watcher.held_at_read if status == 200] == [0, 0, 0]


def test_a_place_taken_before_another_threads_429_waits_out_its_pause(
    slow_forum: ForumServer,
) -> None:
    """A request that took its place just before a 429 was answered on another thread
    (the race a shared connection pool makes) is not sent until that pause is over."""
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=120)
    budget = forum_budget.Budget(
        forum_budget.MemoryLedger(), forum_budget.UNLIMITED, sleep=fake.sleep
    )
    taken = budget.acquire

    def then_a_429_elsewhere(*, max_wait: float) -> float:
        waited = taken(max_wait=max_wait)
        if not fake.waits:
            budget.hold(45)  # the other thread's 429, read between our place and our send
        return waited

    budget.acquire = then_a_429_elsewhere  # type: ignore[method-assign]
    assert slow_forum.forum is not None
    start = fake.now()
    with forum_time(fake.now, fake.sleep), forum_budget.using(budget):
        client.ping()
    assert fake.waits == [45]
    assert [call.at for call in slow_forum.forum.api_log] == [start + timedelta(seconds=45)]
    assert client.request_counts[200] == 1


def test_the_demo_hooks_the_forum_once_waiting_its_turn(slow_forum: ForumServer) -> None:
    """The demo's webhook is made through the client, after a sync spent the minute's
    requests: it waits the forum's pause instead of failing on the 429."""
    fake = FakeTime()
    client = limited_client(slow_forum, fake, budget=120)
    target = "http://127.0.0.1:9/webhooks/discourse"
    with forum_time(fake.now, fake.sleep):
        client.ping()
        client.ping()  # the minute's two requests are spent
        hook_forum_to_service(client, "a-webhook-secret", "http://127.0.0.1:9")
        hook_forum_to_service(client, "a-webhook-secret", "http://127.0.0.1:9")
    assert fake.waits and client.request_counts[429] >= 1
    assert client.web_hook_urls().count(target) == 1
    assert slow_forum.forum is not None
    with slow_forum.forum.lock:
        hooks = list(slow_forum.forum.table(HOOKS).values())
    made = next(hook for hook in hooks if hook["payload_url"] == target)
    assert made["secret"] == "a-webhook-secret"
    assert made["wildcard_web_hook"] and made["active"]


# -- exactly-once topics ----------------------------------------------------------------------


def topics_with(forum: Any, external_id: str) -> list[dict[str, Any]]:
    with forum.forum.lock:
        rows = list(forum.forum.table("topics").values())
    return [row for row in rows if (row.get("external_id") or "").lower() == external_id.lower()]


def test_the_same_external_id_twice_makes_one_topic(forum: Any, client: ForumClient) -> None:
    external_id = unique("once")
    first = client.create_topic(
        "Exactly once, first try", BODY, category_id=None, external_id=external_id
    )
    again = client.create_topic(
        "Exactly once, first try", BODY, category_id=None, external_id=external_id
    )
    assert first.created and not again.created
    assert again.topic_id == first.topic_id
    assert len(topics_with(forum, external_id)) == 1


def test_looking_up_an_external_id_follows_the_301(client: ForumClient) -> None:
    external_id = unique("redirect")
    topic_id = new_topic(client, external_id=external_id, tags=["redirects"])
    client.request_counts.clear()
    found = client.topic_by_external_id(external_id)
    assert found is not None and found.id == topic_id
    assert found.tags == ("redirects",)
    assert client.request_counts[301] == 1 and client.request_counts[200] == 1
    assert client.topic_by_external_id(unique("absent")) is None


class FlakyPosts(HTTPAdapter):
    """Transport fault the real server cannot produce: the first POST /posts fails after
    (``after_sending``) or instead of reaching the server."""

    def __init__(self, failure: str, race_id: str = "") -> None:
        super().__init__()
        self.failure = failure
        self.race_id = race_id
        self.posts_sent = 0

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        is_post = request.method == "POST" and "/posts" in (request.url or "")
        if is_post:
            self.posts_sent += 1
        if not is_post or self.posts_sent > 1:
            return super().send(request, *args, **kwargs)
        if self.failure == "race":  # another worker creates the same topic first...
            rival = request.copy()
            # ...with other parameters, or Discourse would hand ours its memoized answer.
            rival.prepare_body(
                {
                    "raw": BODY + " (rival)",
                    "title": "A rival worker made this",
                    "external_id": self.race_id,
                },
                None,
            )
            super().send(rival, *args, **kwargs)
            return super().send(request, *args, **kwargs)  # ours: 422, external id taken
        if self.failure == "timeout-after-create":
            super().send(request, *args, **kwargs)  # the forum makes the topic...
            raise requests.ReadTimeout("read timed out")  # ...and we never hear back
        response = requests.Response()
        response.status_code = 502
        response.headers["Content-Type"] = "text/html"
        response._content = b"<html>Bad gateway</html>"
        response.request = request
        response.url = request.url or ""
        return response


def test_a_timeout_after_the_forum_created_the_topic_is_resolved_by_lookup(
    forum: Any, client: ForumClient
) -> None:
    flaky = FlakyPosts("timeout-after-create")
    client.session.mount(forum.url, flaky)
    external_id = unique("timeout")
    made = client.create_topic(
        "Created despite a timeout", BODY, category_id=None, external_id=external_id
    )
    assert not made.created  # found by the lookup after the ambiguous failure
    assert flaky.posts_sent == 1  # no second POST
    assert [row["id"] for row in topics_with(forum, external_id)] == [made.topic_id]


def test_a_gateway_error_before_the_forum_is_retried_once_after_lookup(
    forum: Any, client: ForumClient
) -> None:
    flaky = FlakyPosts("bad-gateway")
    client.session.mount(forum.url, flaky)
    external_id = unique("gateway")
    made = client.create_topic(
        "Created on the second try", BODY, category_id=None, external_id=external_id
    )
    assert made.created and flaky.posts_sent == 2
    assert client.request_counts[502] == 1
    assert len(topics_with(forum, external_id)) == 1


def test_losing_a_race_for_the_external_id_finds_the_winner(
    forum: Any, client: ForumClient
) -> None:
    external_id = unique("race")
    flaky = FlakyPosts("race", external_id)
    client.session.mount(forum.url, flaky)
    made = client.create_topic(
        "Two workers, one topic", BODY, category_id=None, external_id=external_id
    )
    assert not made.created and client.request_counts[422] == 1
    assert [row["id"] for row in topics_with(forum, external_id)] == [made.topic_id]


# -- topics and posts -------------------------------------------------------------------------


def test_a_long_topic_comes_back_whole_and_in_order(client: ForumClient) -> None:
    topic_id = new_topic(client)
    for number in range(44):
        client.reply(topic_id, f"Reply number {number} with enough words in it.")
    topic = client.get_topic(topic_id)
    assert [post.post_number for post in topic.posts] == list(range(1, 46))
    assert topic.posts[-1].raw == "Reply number 43 with enough words in it."


def test_replies_edits_and_backdating(forum: Any, client: ForumClient) -> None:
    username = unique("member")[:20]
    client.create_user(username, "A Member", f"{username}@example.org")
    topic_id = new_topic(client, created_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    member = client.acting_as(username)
    post = member.reply(
        topic_id, "A member's reply to the first post.", reply_to_post_number=1,
        created_at=datetime(2026, 1, 6, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    assert post.username == username and post.reply_to_post_number == 1
    assert post.created_at == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    edited = client.update_post(post.id, "The reply, edited by staff.", edit_reason="typo")
    assert client.get_post(post.id).raw == "The reply, edited by staff." == edited.raw
    first = client.get_topic(topic_id)
    assert first.created_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def test_topic_metadata_is_set_as_a_whole(client: ForumClient) -> None:
    topic_id = new_topic(client, tags=["alpha", "beta"])
    client.update_topic(topic_id, title="A renamed topic for the tags test", tags=["beta", "gamma"])
    topic = client.get_topic(topic_id)
    assert topic.title == "A renamed topic for the tags test"
    assert sorted(topic.tags) == ["beta", "gamma"]
    client.update_topic(topic_id, tags=[])
    assert client.get_topic(topic_id).tags == ()
    client.set_topic_status(topic_id, "closed", True)
    assert client.get_topic(topic_id).closed
    with pytest.raises(InvalidRequest):
        client.set_topic_status(topic_id, "frozen", True)


def test_likes_and_solutions(client: ForumClient) -> None:
    username = unique("liker")[:20]
    client.create_user(username, "A Liker", f"{username}@example.org")
    topic_id = new_topic(client)
    answer = client.reply(topic_id, "This reply is the answer you need.")
    client.acting_as(username).like(answer.id)
    client.accept_solution(answer.id)
    post = client.get_post(answer.id)
    assert any(
        action.get("id") == 2 and action.get("count", 0) >= 1
        for action in post.data.get("actions_summary", [])
    )
    assert post.data.get("accepted_answer") is True


# -- administration ---------------------------------------------------------------------------


def test_categories_with_a_parent(client: ForumClient) -> None:
    parent = client.create_category(unique("Parent"), color="112233")
    child = client.create_category(unique("Child"), parent_id=parent.id, description="Kids")
    listed = {category.id: category for category in client.categories()}
    assert listed[child.id].parent_category_id == parent.id
    renamed = client.update_category(child.id, name=unique("Renamed"))
    assert renamed.id == child.id and renamed.name.startswith("Renamed")
    with pytest.raises(InvalidRequest, match="already"):
        client.create_category(parent.name)


def test_category_moderators_need_the_site_setting(client: ForumClient) -> None:
    """Off (Discourse's default) the forum drops the ids: None. On, the ids it then reports;
    the setting is put back, as the forum is shared by the whole session."""
    category = client.create_category(unique("Moderated"))
    lead, other = client.create_group(unique("lead")[:20]), client.create_group(unique("o")[:20])
    assert client.set_category_moderators(category.id, [lead.id]) is None
    client.site_settings(enable_category_group_moderation=True)
    try:
        assert client.set_category_moderators(category.id, [lead.id, other.id]) == (
            lead.id,
            other.id,
        )
        assert client.set_category_moderators(category.id, [other.id]) == (other.id,)
        with pytest.raises(NotFound):
            client.set_category_moderators(category.id, [other.id, 987654321])
        assert client.set_category_moderators(category.id, []) == ()
    finally:
        client.site_settings(enable_category_group_moderation=False)
    assert client.set_category_moderators(category.id, [lead.id]) is None


def test_tag_groups_create_and_replace_their_tags(client: ForumClient) -> None:
    name = unique("practices")
    group = client.create_tag_group(name, ["tg-one", "tg-two"])
    assert set(group.tag_names) == {"tg-one", "tg-two"}
    updated = client.update_tag_group(group.id, tag_names=["tg-two", "tg-three"])
    assert set(updated.tag_names) == {"tg-two", "tg-three"}
    assert {"tg-two", "tg-three"} <= set(client.tags())
    assert name in {listed.name for listed in client.tag_groups()}


def test_users_and_groups(client: ForumClient) -> None:
    names = [unique("u")[:20] for _ in range(3)]
    for name in names:
        client.create_user(name, f"User {name}", f"{name}@example.org")
    assert client.get_user(names[0]).name == f"User {names[0]}"
    emails = {user.username: user.email for user in client.list_users("active")}
    assert emails[names[1]] == f"{names[1]}@example.org"
    group = client.create_group(unique("g")[:20], full_name="A Partner Organisation")
    assert client.add_group_members(group, names[:2]) == names[:2]
    assert client.add_group_members(group, names) == names[2:]  # members already in: skipped
    assert sorted(client.group_members(group.name)) == sorted(names)
    client.remove_group_members(group, names[:1])
    assert sorted(client.group_members(group.name)) == sorted(names[1:])
    assert client.get_group(group.name).id == group.id
    record = client.admin_user(client.get_user(names[1]).id)  # what the role re-check reads
    assert record.username == names[1] and not (record.admin or record.moderator)
    assert group.name in [found["name"] for found in record.data["groups"]]
    with pytest.raises(NotFound):
        client.admin_user(10**9)
    with pytest.raises(NotFound):
        client.get_user(unique("nobody")[:20])
    assert client.user_by_external_id(unique("ext")) is None


def test_every_page_of_groups_and_members_is_read() -> None:
    """More groups than Discourse's 36 a page, more members than its 50: a forum of its own,
    so no other test's groups are counted."""
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        own = ForumClient(config(server))
        before = {group.name for group in own.groups()}  # the automatic groups
        made = {own.create_group(f"partner-{n:03d}").name for n in range(80)}
        listed = [group.name for group in own.groups()]
        assert len(listed) == len(set(listed))  # no page read twice
        assert set(listed) == before | made
        names = [f"m{n:03d}{uuid.uuid4().hex[:6]}" for n in range(120)]
        for name in names:
            own.create_user(name, f"Member {name}", f"{name}@example.org")
        group = own.get_group("partner-000")
        assert own.add_group_members(group, names) == names
        assert sorted(own.group_members(group.name)) == sorted(names)


def test_badges_granted_twice_are_granted_once(client: ForumClient) -> None:
    username = unique("b")[:20]
    client.create_user(username, "Badge Holder", f"{username}@example.org")
    badge = client.create_badge(unique("Steward"), badge_type_id=2, description="Keeps it going")
    first = client.grant_badge(username, badge.id)
    second = client.grant_badge(username, badge.id)
    assert first.id == second.id
    assert [held.badge_id for held in client.user_badges(username)].count(badge.id) == 1
    assert badge.id in {listed.id for listed in client.badges()}


def test_site_settings_are_set(forum: Any, client: ForumClient) -> None:
    client.site_settings(min_topic_title_length=15, allow_duplicate_topic_titles=False)
    assert forum.forum.site_settings["min_topic_title_length"] in (15, "15")


def test_the_api_key_never_follows_a_redirect_off_the_forum() -> None:
    """A 301 to another host (or port) must not carry the admin key along."""
    seen: list[dict[str, str]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            body = b'{"errors":["not here"],"error_type":"not_found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    with serving(Elsewhere) as elsewhere:

        class Forum(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(301)
                self.send_header("Location", f"{elsewhere}/t/some-topic/1.json")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        with serving(Forum) as forum_url:
            client = ForumClient(
                {
                    "url": forum_url,
                    "api_username": "system",
                    "api_key": "admin-key-123",
                    "timeout": 5,
                }
            )
            assert client.topic_by_external_id("wiki-1") is None
    assert len(seen) == 1
    assert "Api-Key" not in seen[0] and "Api-Username" not in seen[0]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
