"""The inbox: events are recorded here before they are acknowledged, then processed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, String, and_, case, or_, select, update
from sqlalchemy.orm import Session

from core import clock
from core.events import Event
from core.models import InboxEvent

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
LAPSED = "LeaseExpired: the worker holding this event stopped before finishing it"


def unstorable(event: Event, *, payload_may_hold_nul: bool = True) -> str | None:
    """Why the inbox cannot keep ``event``, or None: a text longer than its column, or a
    NUL character (PostgreSQL refuses both; SQLite would keep them). Receivers ask before
    recording what a sender made, so such input is refused, not a server error. A caller
    that knows the payload holds no NUL (its JSON text has no ``\\u0000``) skips the walk
    through the payload with ``payload_may_hold_nul=False``."""
    columns = InboxEvent.__table__.c
    for name in ("event_id", "subject", "actor", "delivery_id"):
        value = getattr(event, name)
        limit = cast(String, columns[name].type).length or 0
        if value is not None and len(value) > limit:
            return f"its {name} would be longer than {limit} characters"
        if value is not None and "\x00" in value:
            return f"its {name} would contain a NUL character"
    if payload_may_hold_nul and _holds_nul(event.payload):
        return "the body contains a NUL character (\\u0000)"
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def record(session: Session, event: Event, *, available_at: datetime | None = None) -> bool:
    """Store ``event`` as pending in the caller's transaction, due now or at
    ``available_at``.

    Returns False, storing nothing, when an event with the same ``event_id`` or
    ``dedupe_key`` is already there. ON CONFLICT DO NOTHING makes this safe
    against a concurrent insert of the same event (a webhook and a poll racing).
    """
    received = clock.now()
    values = row_values(event, received_at=received, available_at=available_at or received)
    session.flush()  # what the session holds is written first, as any statement would
    connection = session.connection()
    dialect = connection.dialect.name
    [stored] = record_rows(connection.connection, dialect, [driver_row(values, dialect)])
    return stored


def record_rows(connection: Any, dialect_name: str, rows: list[list[Any]]) -> list[bool]:
    """Insert rows made by ``driver_row`` through a DB-API ``connection`` with one
    statement; for each, whether it was stored (False: a duplicate of a stored event, or
    of an earlier row of the same list). In the connection's transaction, or its own
    when the connection commits each statement (a group commit's: many rows durable at
    once, in one call).

    The statement is the driver's own: no SQLAlchemy compiling or type processing per
    row, most of the cost of a receiver's insert."""
    first: list[bool] = []
    parameters: list[Any] = []
    ids: set[str] = set()
    keys: set[str] = set()
    for row in rows:
        event_id, dedupe_key = row[0], row[1]
        repeated = event_id in ids or dedupe_key in keys
        first.append(not repeated)
        if not repeated:
            parameters += row
            ids.add(event_id)
            if dedupe_key is not None:
                keys.add(dedupe_key)
    if not ids:
        return first
    cursor = connection.cursor()
    try:
        # RETURNING event_id: the rows ON CONFLICT skipped are missing from the answer.
        cursor.execute(_insert_sql(dialect_name, len(ids)), parameters)
        stored = {found for (found,) in cursor.fetchall()}
    finally:
        cursor.close()
    return [was_first and row[0] in stored for row, was_first in zip(rows, first, strict=True)]


def row_values(
    event: Event, *, received_at: datetime, available_at: datetime, body_checked: bool = True
) -> dict[str, Any]:
    """The inbox row of a new pending ``event``; ``body_checked=False`` when its body still
    needs its full schema check (the worker's, before any handler)."""
    return {
        "event_id": event.event_id,
        "dedupe_key": event.dedupe_key,
        "kind": event.kind,
        "source": event.source,
        "subject": event.subject,
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "delivery_id": event.delivery_id,
        "payload": dict(event.payload),
        "state": "pending",
        "attempts": 0,
        "received_at": received_at,
        "available_at": available_at,
        "body_checked": body_checked,
    }


_ROW_COLUMNS = (  # the event id and the content key first: record_rows reads them there
    "event_id",
    "dedupe_key",
    "kind",
    "source",
    "subject",
    "actor",
    "occurred_at",
    "delivery_id",
    "payload",
    "state",
    "attempts",
    "received_at",
    "available_at",
    "body_checked",
)
_TIMES = ("occurred_at", "received_at", "available_at")
_INSERTS: dict[tuple[str, int], str] = {}


def _insert_sql(dialect_name: str, count: int) -> str:
    """INSERT of ``count`` rows … ON CONFLICT DO NOTHING RETURNING event_id, in the
    driver's parameter style; made once per dialect and row count."""
    sql = _INSERTS.get((dialect_name, count))
    if sql is None:
        if dialect_name == "postgresql":  # psycopg: %s, the payload's JSON text cast
            marks = ["%s::jsonb" if name == "payload" else "%s" for name in _ROW_COLUMNS]
        else:
            marks = ["?"] * len(_ROW_COLUMNS)
        one = "(" + ", ".join(marks) + ")"
        # Names and marks are this module's constants: nothing of a row enters the text.
        columns, rows = ", ".join(_ROW_COLUMNS), ", ".join([one] * count)
        sql = f"INSERT INTO {InboxEvent.__tablename__} ({columns}) VALUES {rows}"  # noqa: S608
        sql += " ON CONFLICT DO NOTHING RETURNING event_id"
        _INSERTS[(dialect_name, count)] = sql
    return sql


def driver_row(row: dict[str, Any], dialect_name: str) -> list[Any]:
    """A row (``row_values``) as the driver takes it, in ``record_rows``' column order
    (the event id first, the content key second): times in UTC (on SQLite the text
    SQLAlchemy writes, so they compare and read alike), the payload as JSON text."""
    sqlite_text = dialect_name != "postgresql"
    out = [row[name] for name in _ROW_COLUMNS]
    for index in _TIME_INDEXES:
        moment = out[index].astimezone(UTC)
        out[index] = moment.strftime(SQLITE_TIME) if sqlite_text else moment
    out[_PAYLOAD_INDEX] = json.dumps(out[_PAYLOAD_INDEX])
    if sqlite_text:
        out[_CHECKED_INDEX] = int(out[_CHECKED_INDEX])
    return out


# SQLAlchemy's storage format of a time on SQLite (UTC, no zone), read by core/models.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
_TIME_INDEXES = tuple(_ROW_COLUMNS.index(name) for name in _TIMES)
_PAYLOAD_INDEX = _ROW_COLUMNS.index("payload")
_CHECKED_INDEX = _ROW_COLUMNS.index("body_checked")


@dataclass(frozen=True)
class Claim:
    """One worker's hold on one event; ``attempt`` identifies the claim (it grows each time)."""

    row_id: int
    event: Event
    attempt: int
    worker_id: str
    lease_until: datetime
    lapsed: bool  # taken over from a worker whose lease ran out (it died or hung)
    received_at: datetime | None = None  # when the inbox recorded it (for /metrics' latency)
    body_checked: bool = True  # False: the worker checks the body's full schema first


def claim(session: Session, worker_id: str, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Take the next event that is due: pending and available, or claimed with a lapsed lease.

    One UPDATE whose subquery picks the row: SQLite runs it under its single write
    lock, PostgreSQL skips rows another worker has locked, so two workers never
    take the same event. ``attempts`` counts claims, so an event that keeps killing
    its worker still reaches ``max_attempts``.
    """
    due = or_(
        and_(InboxEvent.state == "pending", InboxEvent.available_at <= now),
        and_(InboxEvent.state == "claimed", InboxEvent.lease_until < now),
    )
    pick = select(InboxEvent.id).where(due).order_by(InboxEvent.available_at, InboxEvent.id)
    pick = pick.limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    lease_until = now + timedelta(seconds=lease_seconds)
    statement = (
        update(InboxEvent)
        .where(InboxEvent.id == pick.scalar_subquery(), due)
        .values(
            state="claimed",
            claimed_by=worker_id,
            lease_until=lease_until,
            attempts=InboxEvent.attempts + 1,
            # Evaluated on the old row: a lapsed lease is a failure worth recording.
            last_error=case((InboxEvent.state == "claimed", LAPSED), else_=InboxEvent.last_error),
        )
        .returning(InboxEvent)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).scalar()
    if row is None:
        return None
    lapsed = row.last_error == LAPSED
    return Claim(
        row.id,
        to_event(row),
        row.attempts,
        worker_id,
        lease_until,
        lapsed,
        row.received_at,
        row.body_checked,
    )


def to_event(row: InboxEvent) -> Event:
    return Event(
        event_id=row.event_id,
        kind=row.kind,
        source=row.source,
        subject=row.subject,
        actor=row.actor,
        occurred_at=row.occurred_at,
        delivery_id=row.delivery_id,
        payload=row.payload,
        dedupe_key=row.dedupe_key,
    )


class LeaseLost(Exception):
    """Another worker took the event (our lease lapsed); our work must not commit."""


def _still_held(held: Claim) -> tuple[ColumnElement[bool], ...]:
    """The claim's row, while this claim holds it (not settled, not taken over)."""
    return (
        InboxEvent.id == held.row_id,
        InboxEvent.state == "claimed",
        InboxEvent.claimed_by == held.worker_id,
        InboxEvent.attempts == held.attempt,
    )


def settle(session: Session, held: Claim, **values: Any) -> None:
    """Write the claim's outcome, only if the claim is still ours; LeaseLost otherwise."""
    statement = (
        update(InboxEvent)
        .where(*_still_held(held))
        .values(lease_until=None, claimed_by=None, **values)
        .returning(InboxEvent.id)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).scalar() is None:
        raise LeaseLost(f"inbox event {held.row_id} is no longer held by {held.worker_id}")
    from core import telemetry  # here: receivers, which never settle, need no metrics

    telemetry.settled(values.get("state"))  # the outcome of the processing being timed


def renew(session: Session, held: Claim, lease_until: datetime) -> bool:
    """Move the claim's lease to ``lease_until`` while the claim is still ours (a long
    handler still working); False when it was settled or taken over."""
    statement = (
        update(InboxEvent)
        .where(*_still_held(held))
        .values(lease_until=lease_until)
        .returning(InboxEvent.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).scalar() is not None


def describe(exc: BaseException) -> str:
    """The error as stored: its type and message only (no traceback, no locals)."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:2000]


def backoff_seconds(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
    jitter: float = 1.0,
) -> float:
    """Exponential backoff with jitter (``jitter`` in [0, 1] scales between half and all
    of the step, so workers that failed together do not retry together); never sooner
    than the platform's ``retry_after``."""
    step = min(cap, base * 2 ** max(0, attempt - 1))
    delay = step * (0.5 + 0.5 * jitter)
    return max(retry_after or 0.0, delay)


class NoSuchEvent(LookupError):
    """The id names no inbox event, or one in a state the operation does not apply to."""


RETRYABLE = frozenset({"dead", "pending"})


def retry(session: Session, row_id: int, *, now: datetime) -> InboxEvent:
    """Put a dead (or failed, waiting) event back to pending now, with its attempts reset."""
    row = _get(session, row_id)
    if row.state not in RETRYABLE:
        raise NoSuchEvent(f"inbox event {row_id} is {row.state}; only dead or failed ones retry")
    if row.state == "pending" and row.last_error is None:
        raise NoSuchEvent(f"inbox event {row_id} is pending and has not failed")
    _requeue(row, now)
    return row


def replay(session: Session, row_id: int, *, now: datetime) -> InboxEvent:
    """Run a done event again (handlers are idempotent, so this repairs, never duplicates)."""
    row = _get(session, row_id)
    if row.state != "done":
        raise NoSuchEvent(f"inbox event {row_id} is {row.state}; only done events replay")
    _requeue(row, now)
    return row


def _requeue(row: InboxEvent, now: datetime) -> None:
    row.state = "pending"
    row.attempts = 0
    row.available_at = now
    row.reason = None
    row.processed_at = None
    row.claimed_by = None
    row.lease_until = None


def _get(session: Session, row_id: int) -> InboxEvent:
    row = session.get(InboxEvent, row_id)
    if row is None:
        raise NoSuchEvent(f"no inbox event with id {row_id}")
    return row


def listing(session: Session, *, state: str | None = None, limit: int = 100) -> list[InboxEvent]:
    """The newest events first, optionally of one state."""
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if state is not None:
        query = query.where(InboxEvent.state == state)
    return list(session.scalars(query))
