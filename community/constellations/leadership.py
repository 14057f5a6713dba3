"""The leadership timeline of each constellation, read from its wiki history.

Every revision of a constellation page is parsed as a charter; a row is kept for each
revision that changed the lead partner or the partner list (the first revision with a
charter counts as the first lead). Revisions without a charter, malformed ones and hidden
ones are skipped: one bad edit in the history must not stop the timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.constellations.charter import Charter, CharterError, parse_charter
from connectors.mediawiki import WikiClient, WikiPage, WikiRevision
from core.errors import NotFound
from core.models import Base, Payload, SyncCursor, UTCDateTime


class LeadershipChange(Base):
    """A revision that changed who leads a constellation or who is in it."""

    __tablename__ = "leadership_changes"
    __table_args__ = (UniqueConstraint("wiki_page_id", "revid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki_page_id: Mapped[int] = mapped_column(Integer, index=True)
    revid: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    user: Mapped[str | None] = mapped_column(String(255))
    lead_partner: Mapped[str] = mapped_column(String(255))
    partners: Mapped[list[str]] = mapped_column(Payload)
    previous_lead: Mapped[str | None] = mapped_column(String(255))
    previous_partners: Mapped[list[str] | None] = mapped_column(Payload)


def _cursor_name(page_id: int) -> str:
    return f"leadership:{page_id}"


def update_timeline(
    session: Session,
    wiki: WikiClient,
    *,
    title: str,
    page_id: int,
    head: WikiPage | None = None,
) -> int:
    """Add the changes in revisions newer than the newest one read; returns how many.

    ``head`` is the page's latest state when the caller already read it (saves a read).

    Reads every revision through continuation (no cap). The newest revision read is
    kept as a cursor, so revisions already read are never parsed again, and a page
    whose latest revision was read costs one request.
    """
    cursor = session.get(SyncCursor, _cursor_name(page_id))
    seen = int(cursor.value) if cursor is not None else 0
    head = head or wiki.read_pages([title])[title]
    if not head.exists or (head.revid is not None and head.revid <= seen):
        return 0
    last = latest_change(session, page_id)
    previous: tuple[str, tuple[str, ...]] | None = (
        (last.lead_partner, tuple(last.partners)) if last is not None else None
    )
    added = 0
    newest = seen
    for revision in _revisions_from(wiki, title, seen):
        if revision.revid <= seen:
            continue
        newest = max(newest, revision.revid)
        charter = _charter_of(title, revision.text)
        if charter is None:
            continue
        current = (charter.lead_partner, charter.partners)
        if previous is not None and not _differs(previous, current):
            continue
        session.add(
            LeadershipChange(
                wiki_page_id=page_id,
                revid=revision.revid,
                timestamp=revision.timestamp,
                user=revision.user,
                lead_partner=current[0],
                partners=list(current[1]),
                previous_lead=previous[0] if previous else None,
                previous_partners=list(previous[1]) if previous else None,
            )
        )
        previous = current
        added += 1
    if newest > seen:
        if cursor is None:
            session.add(SyncCursor(name=_cursor_name(page_id), value=str(newest)))
        else:
            cursor.value = str(newest)
    session.flush()
    return added


def timeline(session: Session, page_id: int) -> list[LeadershipChange]:
    """The page's leadership changes, oldest first."""
    query = (
        select(LeadershipChange)
        .where(LeadershipChange.wiki_page_id == page_id)
        .order_by(LeadershipChange.timestamp, LeadershipChange.revid)
    )
    return list(session.scalars(query))


def with_lead_since(session: Session, charter: Charter, page_id: int) -> Charter:
    """The charter with the date its lead partner took over, from the timeline: the
    latest change that made the current lead the lead (the first change when it always
    was). Unchanged when the timeline does not name the current lead yet."""
    since = None
    for change in timeline(session, page_id):
        if change.lead_partner != charter.lead_partner:
            since = None
        elif since is None:
            since = change.timestamp.date()
    return replace(charter, lead_since=since) if since else charter


def latest_change(session: Session, page_id: int) -> LeadershipChange | None:
    query = (
        select(LeadershipChange)
        .where(LeadershipChange.wiki_page_id == page_id)
        .order_by(LeadershipChange.revid.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _charter_of(title: str, text: Any) -> Charter | None:
    if text is None:  # a hidden revision
        return None
    try:
        return parse_charter(title, str(text))
    except CharterError:
        return None


def _differs(before: tuple[str, tuple[str, ...]], after: tuple[str, tuple[str, ...]]) -> bool:
    """A new lead, or a different set of partners (a reordered list is no change)."""
    return before[0] != after[0] or set(before[1]) != set(after[1])


def _revisions_from(wiki: WikiClient, title: str, seen: int) -> Iterator[WikiRevision]:
    """Revisions from the last one read (included): only new ones are downloaded."""
    try:
        yield from wiki.revisions(title, with_content=True, from_revid=seen or None)
    except NotFound:
        if not seen:
            raise
        # The revision we stopped at was deleted since: read the whole history instead.
        yield from wiki.revisions(title, with_content=True)
