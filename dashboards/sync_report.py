"""What the Sync page shows, read from the store only: sync runs, how far behind the
platform readers are, open sync issues, failed sync events and queued dashboard requests.

Every list is bounded: runs one page at a time, issues and failed events at most a page
each with a count of the rest; the inbox is read through its state indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.constellations.models import SyncIssue
from community.constellations.sync_runs import SyncRun
from connectors.mediawiki.records import read_cursor
from core import event_kinds
from core.errors import ConnectorError
from core.models import InboxEvent, SyncCursor
from dashboards.web import PAGE_SIZE
from webhooks.incoming import forum_poll, wiki_poll

# The incremental readers, in the order shown; per-page cursors (leadership) are not.
CURSORS = (
    (wiki_poll.CURSOR_NAME, "Wiki recent changes"),
    (forum_poll.CURSOR_NAME, "Forum posts"),
)
# The wiki events whose handlers sync a constellation page, and the Sync page's requests.
SYNC_EVENT_KINDS = (
    *(
        kind.name
        for kind in event_kinds.CATALOGUE
        if "community.constellations.handlers.sync_wiki_page" in kind.handlers
    ),
    event_kinds.RESYNC_REQUESTED,
    event_kinds.CONFLICT_RESOLVED,
)
# What a person must fix on a page or the forum (conflicts have their own table).
ERROR_KINDS = ("error", "malformed", "partner", "unknown_partner", "moderation")
WAITING = ("pending", "claimed")


@dataclass(frozen=True)
class CursorLag:
    """One reader's position: ``position_at`` is when the newest change it read happened
    (None when unknown), ``lag_seconds`` how long ago that, or failing that its last
    move, was."""

    name: str
    label: str
    value: str | None
    position_at: datetime | None
    updated_at: datetime | None
    lag_seconds: float | None


@dataclass(frozen=True)
class Listing:
    """At most a page of rows and how many there are in all."""

    rows: Sequence[Any]
    total: int


def cursor_lags(session: Session, *, now: datetime) -> list[CursorLag]:
    stored = {
        row.name: row
        for row in session.scalars(
            select(SyncCursor).where(SyncCursor.name.in_([name for name, _ in CURSORS]))
        )
    }
    lags = []
    for name, label in CURSORS:
        row = stored.get(name)
        if row is None:
            lags.append(CursorLag(name, label, None, None, None, None))
            continue
        position = _position_at(session, name, row.value)
        since = position or row.updated_at
        lag = max(0.0, (now - since).total_seconds())
        lags.append(CursorLag(name, label, row.value, position, row.updated_at, lag))
    return lags


def _position_at(session: Session, name: str, value: str) -> datetime | None:
    if name == wiki_poll.CURSOR_NAME:
        try:
            return read_cursor(value)[0]
        except ConnectorError:
            return None
    if name == forum_poll.CURSOR_NAME and value.isdigit():
        # The post the reader stopped after, if the store has seen it (unique index).
        query = select(ForumPostActivity.created_at).where(ForumPostActivity.post_id == int(value))
        return session.scalars(query).first()
    return None


def runs_page(session: Session, *, page: int) -> tuple[list[SyncRun], bool]:
    """Newest runs first; one row more than a page says whether another page follows."""
    query = select(SyncRun).order_by(SyncRun.id.desc())
    rows = list(session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def open_issues(session: Session, kinds: Sequence[str]) -> Listing:
    """The oldest open issues of ``kinds`` (the ones waiting longest come first)."""
    where = and_(SyncIssue.kind.in_(kinds), SyncIssue.resolved_at.is_(None))
    rows = session.scalars(select(SyncIssue).where(where).order_by(SyncIssue.id).limit(PAGE_SIZE))
    total = session.scalar(select(func.count()).select_from(SyncIssue).where(where)) or 0
    return Listing(list(rows), total)


def _failed() -> Any:
    # Written as state IN (...) first, so both dialects read the few rows of those states
    # through the inbox's state indexes rather than every event of a busy kind.
    return and_(
        InboxEvent.state.in_(("dead", "pending")),
        InboxEvent.kind.in_(SYNC_EVENT_KINDS),
        or_(InboxEvent.state == "dead", InboxEvent.last_error.is_not(None)),
    )


def failed_events(session: Session) -> Listing:
    """Sync events that failed: dead, or waiting to be tried again after an error."""
    columns = select(
        InboxEvent.id,
        InboxEvent.kind,
        InboxEvent.subject,
        InboxEvent.state,
        InboxEvent.attempts,
        InboxEvent.last_error,
        InboxEvent.reason,
        InboxEvent.received_at,
    )
    rows = session.execute(columns.where(_failed()).order_by(InboxEvent.id.desc()).limit(PAGE_SIZE))
    total = session.scalar(select(func.count()).select_from(InboxEvent).where(_failed())) or 0
    return Listing(list(rows), total)


def _waiting(session: Session, kind: str) -> list[dict[str, Any]]:
    query = select(InboxEvent.payload).where(InboxEvent.state.in_(WAITING), InboxEvent.kind == kind)
    return [dict(payload) for payload in session.scalars(query.limit(PAGE_SIZE))]


def queued_resolutions(session: Session) -> dict[int, str]:
    """Issue id -> the choice a moderator made that a worker has not applied yet."""
    queued: dict[int, str] = {}
    for payload in _waiting(session, event_kinds.CONFLICT_RESOLVED):
        issue_id = payload.get("issue_id")
        if isinstance(issue_id, int):
            queued[issue_id] = str(payload.get("choice"))
    return queued


def queued_resyncs(session: Session) -> list[str | None]:
    """The scopes of resyncs requested and not yet run (None: everything)."""
    return [payload.get("title") for payload in _waiting(session, event_kinds.RESYNC_REQUESTED)]
