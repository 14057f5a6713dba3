"""Rows written through the driver alone (core/database.py: the receivers' path) read back
through the ORM exactly as rows SQLAlchemy wrote, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import clock, inbox, inbox_rows
from core.driver import backend, sqlite_file, without_password
from core.events import Event
from core.models import InboxEvent
from core.store import Store
from webhooks.incoming import refusals
from webhooks.incoming.refusal_model import IncomingRefusal

MOMENT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def event(number: int, payload: Mapping[str, Any]) -> Event:
    return Event(
        event_id=f"forum:post_created:post:{number}",
        kind="forum.post_created",
        source="forum",
        subject=f"post:{number}",
        actor="ann",
        occurred_at=MOMENT - timedelta(minutes=5),
        delivery_id=f"delivery-{number}",
        payload=payload,
        dedupe_key=f"key-{number}",
    )


def test_an_inbox_row_from_the_driver_reads_as_one_from_the_orm(store: Store) -> None:
    body = {"post": {"id": 1, "raw": "caf\u00e9 \u2615", "ok": True, "none": None}}
    # The receiver stores the body's text as it came: spacing and non-ASCII kept as sent.
    text = '{ "post": {"id": 1, "raw": "caf\u00e9 \u2615", "ok": true, "none": null} }'
    assert json.loads(text) == body
    row = inbox_rows.row(
        event(1, body),
        store.database.backend,
        received_at=MOMENT,
        available_at=MOMENT,
        body_checked=False,
        payload_json=text,
    )
    assert store.database.committer.record(row) is True
    assert store.database.committer.record(row) is False  # the same event again
    with clock.using(lambda: MOMENT), store.session() as session:
        assert inbox.record(session, event(2, body)) is True  # SQLAlchemy's session's path
    with store.session() as session:
        first, second = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
        assert inbox.to_event(first) == event(1, body)
        assert inbox.to_event(second) == event(2, body)
        assert (first.received_at, first.available_at) == (MOMENT, MOMENT)
        assert (first.state, first.attempts, first.body_checked) == ("pending", 0, False)
        assert second.body_checked is True
        # Times compare alike whichever path wrote them: the claim's query finds both due.
        assert inbox.claim(session, "w", now=MOMENT, lease_seconds=60) is not None
        assert inbox.claim(session, "w", now=MOMENT, lease_seconds=60) is not None
        assert inbox.claim(session, "w", now=MOMENT, lease_seconds=60) is None


def test_refusals_are_written_by_the_driver_and_only_the_newest_are_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refusals, "KEEP", 3)
    for number in range(5):
        moment = MOMENT + timedelta(seconds=number)
        with clock.using(lambda: moment):  # noqa: B023 (used at once)
            refusals.record(
                store.database,
                source="forum",
                status=401,
                reason=f"refusal {number} " + "x" * 600,
                event_name="post_created",
                delivery_id="d" * 150,
                body=b"secret body",
            )
    with store.session() as session:
        rows = session.scalars(select(IncomingRefusal).order_by(IncomingRefusal.id)).all()
        assert session.scalar(select(func.count()).select_from(IncomingRefusal)) == 3
    assert [r.reason.split()[1] for r in rows] == ["2", "3", "4"]  # the newest three
    newest = rows[-1]
    assert newest.received_at == MOMENT + timedelta(seconds=4)
    assert len(newest.reason) == refusals.REASON_LENGTH
    assert newest.delivery_id == "d" * refusals.NAME_LENGTH
    assert (newest.body_size, newest.body_sha256) == (
        11,
        hashlib.sha256(b"secret body").hexdigest(),
    )


def test_store_urls_are_read_as_sqlalchemy_reads_them() -> None:
    assert backend("postgresql+psycopg://u:p@db/x") == "postgresql"
    assert backend("sqlite:///var/c.db") == "sqlite"
    assert sqlite_file("sqlite:///var/c.db") == "var/c.db"  # relative to the working folder
    assert sqlite_file("sqlite:////srv/c.db") == "/srv/c.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    hidden = without_password("postgresql+psycopg://u:s%40cret@db:5433/x?sslmode=require")
    assert hidden == "postgresql+psycopg://u:***@db:5433/x?sslmode=require"
    assert without_password("sqlite:///var/c.db") == "sqlite:///var/c.db"
