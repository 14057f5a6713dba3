"""Deliveries recorded from real Discourse sites (tests/fixtures/discourse/real, sources in
SOURCES.md there), followed from their bytes through the receiver, the inbox and the
worker to their effect: an activity row, a ledger row, a rule run, or a deliberate ignore.

The recordings' secrets are unknown, so each body is signed again with ours, and its
X-Discourse-Instance names the forum the service is configured for; nothing else of a
recording is changed. The forum the handlers read back from is a sandbox holding the
topics and posts the recordings talk about, under the recorded ids. Recordings of names the
service deliberately ignores are answered, counted and never stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from community.activity import ForumLike, ForumPostActivity
from community.credits.models import CreditEntry
from connectors.discourse import ForumClient
from core.event_kinds import BADGES_DUE
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import get_store
from sandbox.forum.server import ForumServer
from sandbox.wiki import free_port
from service.app import create_app
from service.worker import Worker
from tests.conftest import UNTHROTTLED
from tests.webhooks.incoming_support import FIXTURES, SECRET, sign
from webhooks.automations.models import AutomationRun
from webhooks.incoming.counters import unsupported_counts
from webhooks.incoming.discourse import signature_ok
from webhooks.incoming.discourse_events import READ, is_real_unread

REAL = FIXTURES / "real"
# discourse/discourse spec/fabricators/web_hook_fabricator.rb: the secret its ping was signed with
SPEC_SECRET = "my_lovely_secret_for_web_hook"
PROBE_RULE = "every-forum-event"
SPEC_PING = "ping__ping__discourse-spec"  # built from Discourse's spec (SOURCE), not recorded


@dataclass(frozen=True)
class Recording:
    """One recorded delivery: ``<type>__<event>__<site>.json`` (+ ``.body`` bytes if kept)."""

    path: Path
    body_type: str
    event: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    def obj(self) -> dict[str, Any]:
        found: dict[str, Any] = self.body[self.body_type]
        return found


def _load(path: Path) -> Recording:
    data = json.loads(path.read_text("utf-8"))
    body_type, event, _site = path.stem.split("__", 2)
    kept = path.with_suffix(".body")
    raw = kept.read_bytes() if kept.exists() else json.dumps(data["body"]).encode()
    return Recording(path, body_type, event, data["headers"], raw)


def recordings() -> list[Recording]:
    """Every recorded webhook delivery (API answers are named after their HTTP method)."""
    return [_load(p) for p in sorted(REAL.glob("*__*__*.json")) if not p.name[0].isupper()]


def header(recording: Recording, name: str) -> str | None:
    """A recorded header, whatever its case (one recording went through a Node.js proxy)."""
    lowered = {key.lower(): value for key, value in recording.headers.items()}
    return lowered.get(name.lower())


def resent(recording: Recording, instance: str) -> dict[str, str]:
    """The headers the receiver gets: the recorded event headers, our signature."""
    return {
        "Content-Type": "application/json",
        "X-Discourse-Instance": instance,
        "X-Discourse-Event-Id": header(recording, "X-Discourse-Event-Id") or "1",
        "X-Discourse-Event-Type": header(recording, "X-Discourse-Event-Type")
        or recording.body_type,
        "X-Discourse-Event": header(recording, "X-Discourse-Event") or recording.event,
        "X-Discourse-Event-Signature": sign(recording.raw),
    }


ALL = recordings()
READ_RECORDINGS = [r for r in ALL if r.event in READ]
IGNORED_RECORDINGS = [r for r in ALL if r.event != "ping" and r.event not in READ]
# Body types of the account events: read and validated, but no handler acts on them.
ACCOUNT_TYPES = ("user", "user_badge", "group_user")


def test_the_recordings_cover_every_event_the_service_reads_from_a_real_site() -> None:
    recorded = {r.event for r in ALL}
    # No real site's delivery of this was found in public repositories (SOURCES.md); its body
    # is accepted_solution's (discourse-solved sends the same post for both) and is held by
    # the schema and the sandbox.
    assert set(READ) - recorded == {"unaccepted_solution"}
    # A ping recorded from a real site, not only the one from Discourse's spec.
    assert [r for r in ALL if r.event == "ping" and r.path.stem != SPEC_PING]


def test_the_recordings_include_names_the_service_deliberately_ignores() -> None:
    ignored = {r.event for r in IGNORED_RECORDINGS}
    assert len(ignored) >= 3
    assert all(is_real_unread(name) for name in ignored)


@pytest.mark.parametrize("recording", ALL, ids=lambda r: r.path.stem)
def test_a_recording_names_its_event_as_its_headers_do(recording: Recording) -> None:
    if recording.headers:  # one body was kept without its headers
        assert header(recording, "X-Discourse-Event") == recording.event
        assert header(recording, "X-Discourse-Event-Type") == recording.body_type
    assert list(recording.body) == [recording.body_type]  # the root key is the type
    kept = recording.path.with_suffix(".body")
    if kept.exists() and header(recording, "Content-Length"):
        assert len(recording.raw) == int(header(recording, "Content-Length") or 0)


def test_the_signature_check_accepts_discourses_own_signed_ping() -> None:
    [ping] = [r for r in ALL if r.path.stem == SPEC_PING]
    signature = header(ping, "X-Discourse-Event-Signature")
    assert signature_ok(SPEC_SECRET, ping.raw, signature)
    assert not signature_ok(SECRET, ping.raw, signature)
    assert not signature_ok(SPEC_SECRET, ping.raw + b" ", signature)


# -- from bytes to effect -------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[ForumServer]:
    """A forum holding what the recordings point at, under the recorded ids."""
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        _hold_the_recorded_topics(server)
        yield server


def _client(server: ForumServer, username: str = "system") -> ForumClient:
    config = {"url": server.url, "api_username": username, "api_key": server.api_key}
    return ForumClient(config)


def _hold_the_recorded_topics(server: ForumServer) -> None:
    """The accepted solution (ask.fedoraproject.org post 127593, by isudoajl, in topic
    31703) as the forum shows it now: the topic started by someone else, the post its
    accepted answer; the handler re-reads both before it credits anyone."""
    assert server.forum is not None
    [solved] = [r.obj() for r in ALL if r.event == "accepted_solution"]
    starter, solver = "fedora_asker", str(solved["username"])
    for name in (starter, solver):
        _client(server).create_user(name, f"{name} (recorded)", f"{name}@example.org")
    server.forum.reserve_ids("topics", int(solved["topic_id"]))
    opened = _client(server, starter).create_topic(
        "A question asked on a real site",
        "How do I keep a recorded solution?",
        category_id=None,
        external_id="recorded-solution",
    )
    assert opened.topic_id == solved["topic_id"]
    for _ in range(int(solved["post_number"]) - 2):  # the replies before the answer
        _client(server, starter).reply(opened.topic_id, "Has anyone got an idea about this?")
    server.forum.reserve_ids("posts", int(solved["id"]))
    answer = _client(server, solver).reply(opened.topic_id, "This is the answer that was accepted.")
    assert (answer.id, answer.post_number) == (solved["id"], solved["post_number"])
    _client(server, starter).accept_solution(answer.id)


@pytest.fixture
def app(site: ForumServer, tmp_path: Path) -> Flask:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        f"  - name: {PROBE_RULE}\n"
        "    trigger: {event: 'forum.*'}\n"
        "    actions:\n"
        "      - credit: {to: rule-probe, platform: forum, weight: 1}\n"
    )
    url = f"sqlite:///{tmp_path / 'constellate.db'}"
    upgrade(url)
    return create_app(
        {
            "service": {"secret_key": "s" * 40},
            "store": {"url": url},
            "wiki": {
                "url": f"http://127.0.0.1:{free_port()}",
                "script_path": "/",
                "username": "Bot@constellate",
                "password": "wiki-bot-password-not-real",
            },
            "forum": {
                "url": site.url,
                "api_username": site.api_username,
                "api_key": site.api_key,
                "webhook_secret": SECRET,
            },
            "automations": {"rules_file": str(rules), "builtins": []},
            "worker": {"embedded": False},
        }
    )


def deliver(client: FlaskClient, recording: Recording, instance: str) -> tuple[int, Any]:
    answer = client.post(
        "/webhooks/discourse", data=recording.raw, headers=resent(recording, instance)
    )
    return answer.status_code, answer.get_json()


def work(app: Flask) -> None:
    worker = Worker(get_store(app), app.config["CONSTELLATE"], sleep=lambda _s: None)
    for _ in range(100):
        if not worker.run_once():
            return
    raise AssertionError("the worker did not run dry")


def test_every_real_delivery_reaches_its_effect(app: Flask, site: ForumServer) -> None:
    client = app.test_client()
    counted = unsupported_counts()
    for recording in ALL:
        status, answer = deliver(client, recording, site.url)
        if recording.event == "ping":
            assert (status, answer) == (200, {"ok": True, "ping": True})
        elif recording in IGNORED_RECORDINGS:
            assert (status, answer) == (200, {"accepted": False, "unsupported": recording.event})
        else:
            assert (status, answer) == (202, {"accepted": True, "duplicate": False}), recording
    for name in {r.event for r in IGNORED_RECORDINGS}:
        sent = sum(r.event == name for r in IGNORED_RECORDINGS)
        assert unsupported_counts()[name] - counted.get(name, 0) == sent
    again = deliver(client, READ_RECORDINGS[0], site.url)
    assert again == (200, {"accepted": True, "duplicate": True})
    work(app)

    with get_store(app).session() as session:
        events = sorted(
            tuple(row) for row in session.execute(select(InboxEvent.kind, InboxEvent.state))
        )
        kinds = sorted(f"forum.{r.event}" for r in READ_RECORDINGS)
        # The ping and the ignored names were answered, not kept; a group membership
        # change asked for a badges run (the first at once, the rest coalesced into one).
        badges = [event for event in events if event[0] == BADGES_DUE]
        assert badges == [(BADGES_DUE, "done"), (BADGES_DUE, "pending")]
        assert [event for event in events if event[0] != BADGES_DUE] == [
            (kind, "done") for kind in kinds
        ]
        about = {
            row.kind: (row.subject, row.actor)
            for row in session.scalars(select(InboxEvent).where(InboxEvent.source == "forum"))
            if READ[row.kind.removeprefix("forum.")] in ACCOUNT_TYPES
        }
        runs = session.execute(
            select(AutomationRun.event_kind, AutomationRun.state).where(
                AutomationRun.rule == PROBE_RULE
            )
        )
        # Rules leave private messages alone unless they ask for them.
        public = [r for r in READ_RECORDINGS if r.obj().get("topic_archetype") != "private_message"]
        assert len(public) < len(READ_RECORDINGS)
        assert sorted(tuple(run) for run in runs) == sorted(
            (f"forum.{r.event}", "done") for r in public
        )
        activity = {row.post_id: row for row in session.scalars(select(ForumPostActivity))}
        likes = [(r.post_id, r.username, r.topic_id) for r in session.scalars(select(ForumLike))]
        credits = [
            (e.kind, e.account, e.object)
            for e in session.scalars(select(CreditEntry))
            if e.account != "rule-probe"
        ]

    posts = {int(r.obj()["id"]): r for r in READ_RECORDINGS if r.body_type == "post"}
    assert set(posts) <= set(activity)
    for post_id, recording in posts.items():
        row = activity[post_id]
        assert row.username == recording.obj()["username"]
        assert row.topic_id == recording.obj()["topic_id"]
        assert row.deleted == (recording.event == "post_destroyed")
    [like] = [r.obj() for r in READ_RECORDINGS if r.event == "post_liked"]
    [solved] = [r.obj() for r in READ_RECORDINGS if r.event == "accepted_solution"]
    assert ("like_received", like["post"]["username"], f"post:{like['post']['id']}") in credits
    assert (like["post"]["id"], like["user"]["username"], like["post"]["topic_id"]) in likes
    assert ("accepted_solution", solved["username"], f"post:{solved['id']}") in credits
    # Accounts, badges and group members: no handler acts on them (core/event_kinds.py says
    # why); they reach the rules (above) about the user, badge or membership they name.
    [created] = [r.obj() for r in READ_RECORDINGS if r.event == "user_created"]
    [joined] = [r.obj() for r in READ_RECORDINGS if r.event == "user_added_to_group"]
    [granted] = [r.obj() for r in READ_RECORDINGS if r.event == "user_badge_granted"]
    assert about["forum.user_created"] == (f"user:{created['id']}", created["username"])
    assert about["forum.user_added_to_group"] == (
        f"group:{joined['group_id']}:user:{joined['user_id']}",
        None,
    )
    assert about["forum.user_badge_granted"] == (f"user_badge:{granted['id']}", None)
    assert set(about) == {f"forum.{name}" for name in READ if READ[name] in ACCOUNT_TYPES}
