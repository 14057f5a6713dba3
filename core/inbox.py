"""The inbox: events are recorded here before they are acknowledged, then processed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.orm import Session

from core import clock, inbox_rows
from core.events import Event
from core.models import InboxEvent

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0
LAPSED = "LeaseExpired: the worker holding this event stopped before finishing it"


def record(session: Session, event: Event, *, available_at: datetime | None = None) -> bool:
    """Store ``event`` as pending in the caller's transaction, due now or at
    ``available_at``.

    Returns False, storing nothing, when an event with the same ``event_id`` or
    ``dedupe_key`` is already there. ON CONFLICT DO NOTHING makes this safe
    against a concurrent insert of the same event (a webhook and a poll racing).
    """
    received = clock.now()
    session.flush()  # what the session holds is written first, as any statement would
    connection = session.connection()
    backend = connection.dialect.name
    due = available_at or received
    made = inbox_rows.row(event, backend, received_at=received, available_at=due)
    [stored] = inbox_rows.record_rows(connection.connection, backend, [made])
    return stored


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
