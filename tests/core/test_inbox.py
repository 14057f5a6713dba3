"""The inbox records each event once, whichever way it arrives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core.events import Event
from core.inbox import record
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store

# The store fixtures: a SQLite file, and a fresh PostgreSQL database per test.


def post_created(event_id: str = "forum:post_created:17", dedupe_key: str | None = "k17") -> Event:
    return Event(
        event_id=event_id,
        kind="forum.post_created",
        source="forum",
        subject="post:17",
        actor="alice",
        occurred_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        delivery_id="d-1",
        payload={"post": {"id": 17, "raw": "héllo"}},
        dedupe_key=dedupe_key,
    )


def test_record_stores_an_event_once_by_id_or_content_key(store_url: str) -> None:
    upgrade(store_url)
    store = Store(store_url)
    with store.session() as session:
        assert record(session, post_created()) is True
    with store.session() as session:
        assert record(session, post_created()) is False  # the same id again
        assert record(session, post_created("forum:post_created:17:retry")) is False  # same key
        assert record(session, post_created("wiki:rc:1", dedupe_key=None)) is True
        assert record(session, post_created("wiki:rc:2", dedupe_key=None)) is True
    with store.session() as session:
        rows = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
        assert [row.event_id for row in rows] == ["forum:post_created:17", "wiki:rc:1", "wiki:rc:2"]
        first = rows[0]
        assert (first.state, first.attempts, first.kind, first.actor) == (
            "pending",
            0,
            "forum.post_created",
            "alice",
        )
        assert first.payload == {"post": {"id": 17, "raw": "héllo"}}
    store.dispose()


def test_a_duplicate_does_not_spoil_the_callers_transaction(store_url: str) -> None:
    upgrade(store_url)
    store = Store(store_url)
    with store.session() as session:
        record(session, post_created())
    with store.session() as session:
        assert record(session, post_created()) is False
        assert record(session, post_created("wiki:rc:9", dedupe_key=None)) is True
    with store.session() as session:
        assert len(session.scalars(select(InboxEvent)).all()) == 2
    store.dispose()
