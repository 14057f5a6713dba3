"""The store's tables. Migrations in core/migrations must match these (a test compares them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core import clock
from core.inbox_rows import LIMITS, TABLE

# Stable constraint names, so migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Times are stored as UTC and always come back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite the stored text is read by ``datetime.fromisoformat`` (in C) rather
        than the dialect's regular expression: the health figures read a million times."""
        if dialect.name == "sqlite":
            return _sqlite_time
        return super().result_processor(dialect, coltype)


def _sqlite_time(value: str | None) -> datetime | None:
    """A time as SQLite keeps it ("2026-05-04 09:00:00.000000", UTC), aware."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value + "+00:00")  # five times faster than replace()
    except ValueError:  # a time written with a zone of its own
        return datetime.fromisoformat(value).astimezone(UTC)


Payload = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SyncCursor(Base):
    """Where an incremental reader (wiki recent changes, forum reconcile) left off."""

    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class InboxEvent(Base):
    """An incoming event, stored before it is acknowledged; the record of pending work.

    ``event_id`` is the envelope's stable id (the same change seen by a webhook
    and by a poll gets the same id); ``dedupe_key`` catches a retried delivery
    that arrives under a new id. Workers claim a row by setting ``lease_until``;
    an expired lease makes it claimable again. A failed attempt puts the row back
    to pending with ``available_at`` in the future (backoff); ``reason`` says why
    a row ended ``ignored`` or ``dead``, ``last_error`` what the last failure was.
    """

    __tablename__ = TABLE
    __table_args__ = (
        Index("ix_inbox_events_state_lease", "state", "lease_until"),
        Index("ix_inbox_events_state_available", "state", "available_at"),
        Index("ix_inbox_events_state_id", "state", "id"),  # the dashboard's newest-first lists
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(LIMITS["event_id"]), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(LIMITS["dedupe_key"]), unique=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(LIMITS["subject"]))
    actor: Mapped[str | None] = mapped_column(String(LIMITS["actor"]))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivery_id: Mapped[str | None] = mapped_column(String(LIMITS["delivery_id"]))
    payload: Mapped[dict[str, Any]] = mapped_column(Payload)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # False while the body awaits its full schema check: a webhook receiver checks only
    # the fields the row is made of, and the worker checks the rest before any handler.
    body_checked: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
