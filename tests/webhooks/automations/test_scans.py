"""The scans on a real store (SQLite and PostgreSQL): topics nobody else answered, once per
topic, and charter pages no person keeps up while their category is busy, with the forum
names of their last editors."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, WikiChangeActivity
from community.constellations.models import PageTopicLink
from community.credits.models import Account
from community.credits.people import ensure_account, link
from core.config import DEFAULTS, Settings
from core.event_kinds import CHARTER_STALE, TOPIC_UNANSWERED
from core.events import Event
from core.models import InboxEvent
from core.store import Store
from webhooks.automations.scans import stale_events, unanswered_events
from webhooks.automations.scheduler import record_due

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
OURS = "constellate"
WIKI_BOT = "Constellate Bot"
ids = itertools.count(8_000_001)


def settings() -> Settings:
    made = copy.deepcopy(DEFAULTS)
    made["forum"].update(url="http://forum.example", api_username=OURS)
    made["wiki"]["username"] = f"{WIKI_BOT}@sync"
    return made


def constellation(session: Session, *, status: str = "active") -> PageTopicLink:
    page_id = next(ids)
    made = PageTopicLink(
        wiki_page_id=page_id,
        wiki_title=f"Flood Wardens {page_id}",
        external_id=f"wiki-{page_id}",
        forum_category_id=next(ids),
        charter_status=status,
        charter={"status": status, "started": "2026-01-05", "beat": "weekly"},
    )
    session.add(made)
    session.flush()
    return made


def post(
    session: Session,
    category_id: int | None,
    username: str,
    at: datetime,
    *,
    topic: int | None = None,
    number: int = 1,
    **flags: Any,
) -> int:
    topic_id = topic if topic is not None else next(ids)
    session.add(
        ForumPostActivity(
            post_id=next(ids),
            topic_id=topic_id,
            category_id=category_id,
            username=username,
            post_number=number,
            created_at=at,
            updated_at=at,
            **flags,
        )
    )
    session.flush()
    return topic_id


def edit(session: Session, title: str, user: str | None, at: datetime, kind: str = "edit") -> int:
    revid = next(ids)
    session.add(
        WikiChangeActivity(
            change_key=f"rev:{revid}",
            revid=revid,
            title=title,
            user=user,
            timestamp=at,
            type=kind,
        )
    )
    session.flush()
    return revid


# -- unanswered topics -------------------------------------------------------------------


def unanswered(session: Session, now: datetime = NOW, hours: int = 48) -> dict[int, Event]:
    found = unanswered_events(session, settings(), now=now, hours=[hours])
    return {event.payload["topic_id"]: event for event in found}


def test_a_topic_nobody_else_answered_is_found(store: Store) -> None:
    with store.session() as session:
        flood = constellation(session)
        category = flood.forum_category_id
        opened = NOW - timedelta(hours=50)
        alone = post(session, category, "alice", opened)
        answered = post(session, category, "alice", opened)
        post(session, category, "bob", opened + timedelta(hours=1), topic=answered, number=2)
        self_reply = post(session, category, "alice", opened)
        post(session, category, "alice", opened + timedelta(hours=1), topic=self_reply, number=2)
        deleted_reply = post(session, category, "alice", opened)
        post(
            session,
            category,
            "bob",
            opened + timedelta(hours=1),
            topic=deleted_reply,
            number=2,
            deleted=True,
        )
        ours_replied = post(session, category, "alice", opened)
        post(session, category, OURS, opened + timedelta(hours=1), topic=ours_replied, number=2)
        post(session, category, "alice", NOW - timedelta(hours=48 + 24 * 7, minutes=1))  # too old
        post(session, category, OURS, opened)  # our own topic
        post(session, category, WIKI_BOT.replace(" ", "_"), opened)  # our wiki account's
        post(session, category, "alice", NOW - timedelta(hours=47))  # not 48 hours yet
        post(session, category, "alice", opened, private=True)
        post(session, next(ids), "alice", opened)  # no constellation's category
        found = unanswered(session)
        assert set(found) == {alone, self_reply, deleted_reply, ours_replied}
        event = found[alone]
        assert event.event_id == f"schedule:unanswered:{alone}:48"
        assert (event.kind, event.source, event.actor) == (TOPIC_UNANSWERED, "schedule", None)
        assert event.subject == f"topic:{alone}"
        assert event.occurred_at == opened + timedelta(hours=48)
        assert event.payload == {
            "topic_id": alone,
            "category_id": category,
            "page_id": flood.wiki_page_id,
            "hours": 48,
            "opened_at": opened.isoformat(),
            "facts": {"hours_unanswered": 48, "author": "alice"},
        }
        # A reply comes: no longer unanswered.
        post(session, category, "carol", NOW, topic=alone, number=2)
        assert set(unanswered(session)) == {self_reply, deleted_reply, ours_replied}


def test_a_reply_from_the_authors_other_account_does_not_answer(store: Store) -> None:
    with store.session() as session:
        category = constellation(session).forum_category_id
        person = ensure_account(session, "forum", "dana").person_id
        session.add(Account(platform="forum", username="dana-work", person_id=person))
        topic = post(session, category, "dana", NOW - timedelta(hours=60))
        post(session, category, "dana-work", NOW - timedelta(hours=59), topic=topic, number=2)
        assert set(unanswered(session)) == {topic}
        post(session, category, "erik", NOW - timedelta(hours=1), topic=topic, number=3)
        assert unanswered(session) == {}


def test_archived_constellations_are_not_scanned_but_any_status_is(store: Store) -> None:
    with store.session() as session:
        dormant = constellation(session, status="dormant")
        archived = constellation(session)
        archived.archived_at = NOW - timedelta(days=1)
        topic = post(session, dormant.forum_category_id, "fay", NOW - timedelta(hours=50))
        post(session, archived.forum_category_id, "fay", NOW - timedelta(hours=50))
        assert set(unanswered(session)) == {topic}


def test_each_unanswered_topic_is_recorded_once_per_wait(store: Store) -> None:
    with store.session() as session:
        category = constellation(session).forum_category_id
        topic = post(session, category, "gus", NOW - timedelta(hours=50))

    def scan(now: datetime, hours: list[int]) -> int:
        return record_due(
            store, settings(), now=now, schedules=[], unanswered_hours=hours, stale=[]
        )

    assert scan(NOW, [24, 48]) == 2
    assert scan(NOW + timedelta(minutes=10), [24, 48]) == 0
    assert scan(NOW + timedelta(days=3), [24, 48, 96]) == 1  # the 96 hours' nudge
    with store.session() as session:
        rows = session.scalars(
            select(InboxEvent.event_id).where(InboxEvent.kind == TOPIC_UNANSWERED)
        )
        assert sorted(rows) == [
            f"schedule:unanswered:{topic}:24",
            f"schedule:unanswered:{topic}:48",
            f"schedule:unanswered:{topic}:96",
        ]


# -- stale charters ----------------------------------------------------------------------


def stale(session: Session, now: datetime = NOW) -> list[Event]:
    return stale_events(session, settings(), now=now, stale=[(60, 14)])


def test_a_charter_nobody_edits_while_its_category_talks_is_stale(store: Store) -> None:
    with store.session() as session:
        flood = constellation(session)
        title = flood.wiki_title
        edit(session, title, "Ben", NOW - timedelta(days=90), kind="new")
        edit(session, title, "Cleo", NOW - timedelta(days=85))
        edit(session, title, "Ana Smith", NOW - timedelta(days=80))
        last = edit(session, title, "Ben", NOW - timedelta(days=70))
        edit(session, title, WIKI_BOT, NOW - timedelta(days=5))  # our bot section
        edit(session, title, "203.0.113.9", NOW - timedelta(days=3))  # an IP address
        edit(session, title, None, NOW - timedelta(days=2))  # a hidden user
        edit(session, title, "Ana Smith", NOW - timedelta(days=1), kind="log")  # no text edit
        edit(session, "Another page", "Ana Smith", NOW - timedelta(days=1))
        # Ben and Ana Smith have forum accounts (Ana's person has two); Cleo has none.
        link(session, ("Ben", "ben"), "moderator")
        link(session, ("Ana Smith", "ana"), "moderator")
        ana = ensure_account(session, "forum", "ana").person_id
        session.add(Account(platform="forum", username="ana-field", person_id=ana))
        ensure_account(session, "wiki", "Cleo")
        post(session, flood.forum_category_id, "dora", NOW - timedelta(days=10))

        [event] = stale(session)
        assert event.event_id == f"schedule:stale:{flood.wiki_page_id}:60:{last}"
        assert (event.kind, event.source, event.actor) == (CHARTER_STALE, "schedule", None)
        assert event.subject == f"constellation:{flood.wiki_page_id}"
        assert event.occurred_at == NOW - timedelta(days=70) + timedelta(days=60)
        assert event.payload == {
            "page_id": flood.wiki_page_id,
            "days": 60,
            "active_days": 14,
            "facts": {
                "days_untouched": 70,
                "last_edited": (NOW - timedelta(days=70)).date().isoformat(),
                "last_editors": ["ben", "ana", "ana-field"],
            },
        }
        # The same stretch found again: the same event.
        [again] = stale(session, NOW + timedelta(days=3))
        assert again.event_id == event.event_id
        assert again.payload["facts"]["days_untouched"] == 73


def test_a_quiet_category_or_a_recent_edit_makes_no_reminder(store: Store) -> None:
    with store.session() as session:
        quiet = constellation(session)
        edit(session, quiet.wiki_title, "Ben", NOW - timedelta(days=70))
        post(session, quiet.forum_category_id, "dora", NOW - timedelta(days=15))
        post(session, quiet.forum_category_id, OURS, NOW - timedelta(days=1))
        post(session, quiet.forum_category_id, "dora", NOW - timedelta(days=1), deleted=True)
        fresh = constellation(session)
        edit(session, fresh.wiki_title, "Ben", NOW - timedelta(days=59))
        post(session, fresh.forum_category_id, "dora", NOW - timedelta(days=1))
        dormant = constellation(session, status="dormant")
        edit(session, dormant.wiki_title, "Ben", NOW - timedelta(days=70))
        post(session, dormant.forum_category_id, "dora", NOW - timedelta(days=1))
        unseen = constellation(session)  # no edit recorded at all
        post(session, unseen.forum_category_id, "dora", NOW - timedelta(days=1))
        assert stale(session) == []
        forming = constellation(session, status="forming")
        edit(session, forming.wiki_title, "Ben", NOW - timedelta(days=70))
        post(session, forming.forum_category_id, "dora", NOW - timedelta(days=1))
        assert [e.payload["page_id"] for e in stale(session)] == [forming.wiki_page_id]


def test_a_new_edit_ends_the_stretch_and_a_later_one_starts_anew(store: Store) -> None:
    with store.session() as session:
        flood = constellation(session)
        first = edit(session, flood.wiki_title, "Ben", NOW - timedelta(days=61))
        post(session, flood.forum_category_id, "dora", NOW - timedelta(days=2))
        [event] = stale(session)
        assert event.event_id.endswith(f":60:{first}")
        assert event.payload["facts"]["last_editors"] == []  # Ben has no forum account
        second = edit(session, flood.wiki_title, "Ben", NOW)
        assert stale(session, NOW + timedelta(days=1)) == []
        later = NOW + timedelta(days=61)
        post(session, flood.forum_category_id, "dora", later - timedelta(days=1))
        [renewed] = stale(session, later)
        assert renewed.event_id == f"schedule:stale:{flood.wiki_page_id}:60:{second}"
