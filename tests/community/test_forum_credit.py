"""Forum credit from the sandbox's real webhooks: replies, likes, accepted solutions,
deletion and recovery, the guards, and replays that change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.credits import ledger
from community.credits.forum_credit import credit_practice_author
from community.credits.models import CreditEntry
from community.handling import HandlerContext
from community.practices.adoption import sync_template_adoptions
from community.practices.models import Practice
from core import inbox
from core.config import DEFAULTS, Settings
from core.events import Event
from core.models import InboxEvent
from core.store import Store
from service.dispatch import handlers_for
from tests.community.constellations.sync_support import SyncRig, register_partners
from tests.community.forum_deliveries import RECEIVED, deliveries, events_about, handle
from tests.conftest import SessionForum, SessionWiki
from tests.sandbox.forum.receivers import Receiver
from tests.webhooks.incoming_support import load_fixture, wire_body
from webhooks.incoming.discourse_events import normalise


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> SyncRig:
    return SyncRig(wiki, forum, tmp_path)


@pytest.fixture
def receiver(forum: SessionForum) -> Iterator[Receiver]:
    with deliveries(forum) as receiving:
        yield receiving


def ledger_state(rig: SyncRig) -> tuple[int, dict[str, float]]:
    with rig.store.session() as session:
        count = session.scalar(select(func.count()).select_from(CreditEntry)) or 0
        totals = session.execute(
            select(CreditEntry.account, func.sum(CreditEntry.weight)).group_by(CreditEntry.account)
        ).all()
        return count, {account: float(total) for account, total in totals}


def active(rig: SyncRig, account: str) -> list[tuple[str, str, float]]:
    with rig.store.session() as session:
        return sorted(
            (e.kind, e.ref, e.weight) for e in ledger.active_entries(session, account=account)
        )


def new_user(forum: SessionForum, prefix: str) -> Any:  # a pydiscourse client (conftest)
    username = forum.name(prefix)
    forum.client(forum.api_username).create_user(
        prefix.title(), username, f"{username}@example.com", uuid.uuid4().hex, active="true"
    )
    return forum.client(username)


def test_forum_credit_guards_cancel_and_replay(
    rig: SyncRig, forum: SessionForum, receiver: Receiver
) -> None:
    admin = forum.client(forum.api_username)
    category = admin.create_category(forum.name("Credit "), "0088CC")["category"]["id"]
    alice, bob, carol = (new_user(forum, p) for p in ("alice", "bob", "carol"))
    names = {c.api_username for c in (alice, bob, carol)}
    text = " and this sentence makes the post long enough."
    first = alice.create_post(
        "The opening post" + text, category_id=category, title=forum.name("Credit topic ")
    )
    topic = first["topic_id"]
    p2 = bob.create_post("Bob's reply" + text, topic_id=topic)
    p3 = carol.create_post("Carol's reply" + text, topic_id=topic)
    p4 = alice.create_post("Alice answers herself" + text, topic_id=topic)
    admin.create_post("The bot's reply" + text, topic_id=topic)  # our own account
    for liker, post in ((carol, p2), (alice, p2), (bob, p3), (bob, first)):
        liker._post("/post_actions.json", id=post["id"], post_action_type_id=2)
    alice._post("/solution/accept.json", id=p4["id"])  # a self-solution: no credit
    alice._post("/solution/accept.json", id=p2["id"])
    pm = bob.create_post(
        "A private word" + text,
        title=forum.name("Private "),
        archetype="private_message",
        target_recipients=carol.api_username,
    )
    carol.create_post("A private answer" + text, topic_id=pm["topic_id"])
    topics = {topic, pm["topic_id"]}
    handled: list[Event] = []

    def handle_new() -> None:
        events = events_about(forum, receiver, topics)[len(handled) :]
        handle(rig, events)
        handled.extend(events)

    handle_new()
    b, c, a = bob.api_username, carol.api_username, alice.api_username
    [solution] = _rows(rig, b, "accepted_solution")
    assert active(rig, b) == sorted([
        ("forum_reply", str(p2["id"]), 2.0),
        ("like_received", f"like:{c}", 1.0),
        ("like_received", f"like:{a}", 1.0),
        ("accepted_solution", solution.ref, 10.0),
    ])  # fmt: skip
    assert active(rig, c) == sorted([("forum_reply", str(p3["id"]), 2.0),
                                     ("like_received", f"like:{b}", 1.0)])  # fmt: skip
    # Alice: her reply in her own topic counts, her self-solution and first post do not.
    assert [(k, w) for k, _, w in active(rig, a)] == [("forum_reply", 2.0), ("like_received", 1.0)]

    # Carol's reply is deleted: its credit and like are cancelled, the rows kept.
    admin._delete(f"/posts/{p3['id']}.json")
    handle_new()
    assert active(rig, c) == []
    rows = sorted((e.kind, e.weight, e.reason) for e in _rows(rig, c))
    assert rows == [
        ("forum_reply", -2.0, "post deleted"),
        ("forum_reply", 2.0, None),
        ("like_received", -1.0, "post deleted"),
        ("like_received", 1.0, None),
    ]
    # Recovered: the reply and its like are credited again under new refs.
    admin._put(f"/posts/{p3['id']}/recover.json")
    handle_new()
    assert active(rig, c) == [
        ("forum_reply", f"{p3['id']}:recovered:1", 2.0),
        ("like_received", f"like:{b}:recovered:1", 1.0),
    ]

    # The solution is unaccepted: its credit is cancelled.
    alice._post("/solution/unaccept.json", id=p2["id"])
    handle_new()
    assert [(k, w) for k, _, w in active(rig, b)] == [
        ("forum_reply", 2.0),
        ("like_received", 1.0),
        ("like_received", 1.0),
    ]
    [counter] = [e for e in _rows(rig, b, "accepted_solution") if e.cancels_key]
    assert (counter.weight, counter.reason) == (-10.0, "solution unaccepted")
    # Accepted again (the same webhook body, a new delivery): credited again.
    alice._post("/solution/accept.json", id=p2["id"])
    handle_new()
    assert ("accepted_solution", "solution:1", 10.0) in active(rig, b)

    # The topic is deleted: Discourse sends post_destroyed for its first post only, and
    # topic_destroyed; every post's credit is cancelled.
    before = {name: active(rig, name) for name in (a, b, c)}
    admin._delete(f"/t/{topic}.json")
    handle_new()
    assert [active(rig, name) for name in (a, b, c)] == [[], [], []]
    # Recovered: everything the deletion cancelled returns, the solution included.
    admin._put(f"/t/{topic}/recover.json")
    handle_new()
    assert {name: [(k, w) for k, _, w in active(rig, name)] for name in (a, b, c)} == {
        name: [(k, w) for k, _, w in rows] for name, rows in before.items()
    }
    assert ("accepted_solution", "solution:1:recovered:1", 10.0) in active(rig, b)

    kinds = {e.kind for e in handled}
    assert {
        "forum.post_created",
        "forum.post_destroyed",
        "forum.post_recovered",
        "forum.accepted_solution",
        "forum.unaccepted_solution",
        "forum.topic_destroyed",
        "forum.topic_recovered",
    } <= kinds
    assert "forum.post_liked" in kinds
    count, totals = ledger_state(rig)
    assert set(totals) == names  # no credit for our account or in the private message
    assert totals == {b: 14.0, c: 3.0, a: 3.0}
    with rig.store.session() as session:
        scopes = {e.scope for e in session.scalars(select(CreditEntry))}
    assert scopes == {f"category:{category}"}

    handle(rig, handled)  # every event again
    handle(rig, list(reversed(handled)))  # and once more, in reverse order
    assert ledger_state(rig) == (count, totals)


def _rows(rig: SyncRig, account: str, kind: str | None = None) -> list[CreditEntry]:
    with rig.store.session() as session:
        query = select(CreditEntry).where(CreditEntry.account == account)
        if kind:
            query = query.where(CreditEntry.kind == kind)
        return list(session.scalars(query))


def recorded_like(liker: dict[str, Any], author: str) -> Event:
    """The recorded like webhook, with the liker and the post's author chosen."""
    data = load_fixture("like__post_liked")
    body = data["body"]
    body["like"]["user"].update(liker)
    body["like"]["post"].update(username=author, user_id=liker["id"] + 1, post_number=2)
    return normalise("post_liked", body, wire_body(body), delivery_id="1", received=RECEIVED)


def test_no_self_like_and_no_bot_like(rig: SyncRig) -> None:
    self_like = recorded_like({"id": 40, "username": "Dana"}, "dana")
    handle(rig, [self_like])
    assert ledger_state(rig) == (0, {})
    handle(rig, [recorded_like({"id": -2, "username": "helper_bot"}, "dana")])
    assert ledger_state(rig) == (0, {})
    handle(rig, [recorded_like({"id": 41, "username": "erin"}, "dana")])
    assert ledger_state(rig) == (1, {"dana": 1.0})


def test_practices_credit_their_author_when_authored_and_adopted(store: Store) -> None:
    settings: Settings = {name: dict(values) for name, values in DEFAULTS.items()}
    settings["wiki"]["username"] = "ConstellateBot@sync"
    when = datetime(2030, 2, 1, tzinfo=UTC)
    register_partners(store)  # adopters are registered partners
    with store.session() as session:
        practice = Practice(
            page_id=501, title="Cold chain checklist", tag="cold-chain-checklist",
            originating_organisation="Harbour Food Bank", revid=7, author="Ana",
            author_platform="wiki", updated_at=when,
        )  # fmt: skip
        orphan = Practice(
            page_id=502, title="Nobody's practice", tag="nobodys-practice", revid=8, updated_at=when
        )
        ours = Practice(
            page_id=503, title="Bot practice", tag="bot-practice", revid=9,
            author="ConstellateBot", author_platform="wiki", updated_at=when,
        )  # fmt: skip
        session.add_all([practice, orphan, ours])
        session.flush()
        assert credit_practice_author(session, practice, settings) is True
        assert credit_practice_author(session, practice, settings) is False
        assert credit_practice_author(session, orphan, settings) is False
        assert credit_practice_author(session, ours, settings) is False
        # The originating organisation adopting its own practice is no event.
        sync_template_adoptions(
            session, practice, ["Harbour Food Bank", "North Pantry"], revid=8, at=when, actor="Ben"
        )
        events = adopted(session)
        assert len(events) == 1
        for _ in range(2):  # the same event twice credits once
            handle_in(session, settings, events)
        rows = session.scalars(select(CreditEntry).order_by(CreditEntry.id)).all()
        assert [(r.account, r.kind, r.ref, r.weight, r.scope) for r in rows] == [
            ("Ana", "practice_authored", "authored", 10.0, "page:501"),
            ("Ana", "practice_adopted", "adoption:north pantry", 15.0, "page:501"),
        ]

        # Withdrawn: the credit is cancelled; the first event replayed credits nothing.
        sync_template_adoptions(
            session, practice, ["Harbour Food Bank"], revid=9, at=when, actor="B"
        )
        handle_in(session, settings, events)
        assert adoption_rows(session) == [
            ("adoption:north pantry", 15.0, None),
            ("adoption:north pantry", -15.0, "adoption withdrawn in revision 9"),
        ]
        # Listed again: credited again under a numbered ref, once however often replayed.
        sync_template_adoptions(session, practice, ["North Pantry"], revid=10, at=when, actor="Cy")
        for _ in range(2):
            handle_in(session, settings, adopted(session))
        assert adoption_rows(session)[2:] == [("adoption:north pantry,1", 15.0, None)]

        # The author listing another organisation themselves earns nothing.
        sync_template_adoptions(
            session, practice, ["North Pantry", "South Larder"], revid=11, at=when, actor="ana"
        )
        handle_in(session, settings, adopted(session))
        assert len(adoption_rows(session)) == 3


def adopted(session: Session) -> list[Event]:
    """The adoption events in the inbox, oldest first."""
    query = select(InboxEvent).where(InboxEvent.kind == "community.practice_adopted")
    return [inbox.to_event(row) for row in session.scalars(query.order_by(InboxEvent.id))]


def handle_in(session: Session, settings: Settings, events: list[Event]) -> None:
    for event in events:
        for handler in handlers_for(event.kind):
            handler(event, HandlerContext(session, settings))


def adoption_rows(session: Session) -> list[tuple[str, float, str | None]]:
    query = select(CreditEntry).where(CreditEntry.kind == "practice_adopted")
    return [(r.ref, r.weight, r.reason) for r in session.scalars(query.order_by(CreditEntry.id))]
