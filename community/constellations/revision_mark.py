"""The revision each constellation page was left at by the last sync that finished it.

A page still at that revision changed nowhere since, so a resync reads neither its
history nor the forum for it: the wiki section's forum inputs reach the page through
their own events (``handlers.refresh_wiki_section``). Our own section edits move the
mark along when they were made on the marked revision; otherwise they would count as a
change and every resync after one would read the history again.

Kept as a ``SyncCursor`` by page id (ids survive moves), so no table of its own.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectors.mediawiki import EditResult, WikiPage
from core.models import SyncCursor


def _name(page_id: int) -> str:
    return f"constellation-page:{page_id}"


def marked_revision(session: Session, page_id: int) -> int | None:
    cursor = session.get(SyncCursor, _name(page_id))
    return int(cursor.value) if cursor is not None else None


def unchanged_since_sync(session: Session, page: WikiPage) -> bool:
    """The page (as read) is at the revision its last finished sync left it at."""
    if not page.exists or page.pageid is None or page.revid is None:
        return False
    return marked_revision(session, page.pageid) == page.revid


def mark(session: Session, page_id: int, revid: int) -> None:
    cursor = session.get(SyncCursor, _name(page_id))
    if cursor is None:
        session.add(SyncCursor(name=_name(page_id), value=str(revid)))
    elif cursor.value != str(revid):
        cursor.value = str(revid)
    session.flush()


def left_at(page: WikiPage, saved: list[EditResult]) -> int | None:
    """The revision a sync left ``page`` at: our section edit's when it was made on the
    revision the sync read (else someone edited in between, which the next sync reads)."""
    for edit in reversed(saved):
        if not edit.nochange and edit.revid is not None and edit.base_revid == page.revid:
            return edit.revid
    return page.revid


def follow_own_edit(session: Session, page_id: int, edit: EditResult) -> None:
    """A section edit outside a sync (a forum event's refresh): the mark follows it when
    it was made on the marked revision, as it changed nothing a sync reads."""
    if edit.nochange or edit.revid is None or edit.base_revid is None:
        return
    if marked_revision(session, page_id) == edit.base_revid:
        mark(session, page_id, edit.revid)
