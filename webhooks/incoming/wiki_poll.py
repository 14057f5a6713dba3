"""Reading the wiki's recent changes into the inbox, resumably.

Each change is recorded and the cursor advanced in one transaction, so a crash resumes
exactly after the last recorded change: nothing lost, nothing repeated (and a repeat
would be dropped by its ``event_id`` anyway).

First run (no cursor): start from the wiki's newest change (``latest_cursor()``); the
past is not replayed. If the stored cursor is older than the oldest change the wiki
still keeps, changes were lost: the report says so, a warning is logged, every page of
the reconcile categories is recorded as a ``wiki.reconcile`` event (its latest
revision), and the cursor moves to the newest change.

With the wiki's feed configured (``wiki.feed``) the poll is its safety net: a change it
records that was not in the inbox already was never announced, or its message was lost.
It is recorded as usual (the gap is filled), counted (``constellate_wiki_feed_gaps_total``)
and logged once per poll. A change younger than ``FEED_GRACE_SECONDS`` may still be on
its way through the feed, so it is recorded without being judged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from connectors.mediawiki import WikiChange, WikiClient
from connectors.mediawiki.records import PageHead, read_cursor
from core import clock, inbox, telemetry
from core.models import SyncCursor
from core.store import Store
from webhooks.incoming.wiki_events import change_event, reconcile_event

CURSOR_NAME = "wiki.recentchanges"
log = logging.getLogger("constellate.webhooks.wiki_poll")


class RecentChanges(Protocol):
    def recent_changes(self, cursor: str | None = None) -> Iterator[WikiChange]: ...
    def latest_cursor(self) -> str | None: ...
    def oldest_change_timestamp(self) -> datetime | None: ...


PageLister = Callable[[Any], Iterable[PageHead]]
RECONCILE_CATEGORIES = ("Category:Constellations", "Category:Practices")
# How long the feed may take to bring a change (its message, then the look-ups the
# listener makes while the wiki's transaction commits) before its absence is a gap.
FEED_GRACE_SECONDS = 10
MAX_RECONCILE_PAGES = 5000  # a bound: a reconcile is a recovery, not a crawl


def category_pages(client: Any) -> Iterable[PageHead]:
    """The pages a full reconcile reads: our categories, with their latest revisions."""
    pages: Iterable[PageHead] = client.category_members(
        RECONCILE_CATEGORIES, limit=MAX_RECONCILE_PAGES
    )
    return pages


@dataclass
class PollReport:
    recorded: int = 0  # new events in the inbox
    duplicates: int = 0  # changes the inbox already had
    cursor: str | None = None  # where the next poll starts
    started_fresh: bool = False  # no cursor was stored: started from the newest change
    cursor_too_old: bool = False  # changes expired before we read them: reconciled
    reconciled: int = 0  # wiki.reconcile events recorded
    gaps: list[int] = field(default_factory=list)  # rcids the feed should have brought


def read_stored_cursor(session: Session) -> str | None:
    row = session.get(SyncCursor, CURSOR_NAME)
    return row.value if row else None


def store_cursor(session: Session, value: str) -> None:
    row = session.get(SyncCursor, CURSOR_NAME)
    if row is None:
        session.add(SyncCursor(name=CURSOR_NAME, value=value))
    else:
        row.value = value


def poll_wiki(
    store: Store,
    settings: Mapping[str, Any],
    *,
    client: RecentChanges | None = None,
    list_pages: PageLister | None = None,
) -> PollReport:
    """Record the changes since the stored cursor; see the module notes for edge cases.

    ``list_pages(client)`` lists the pages a reconcile reads (default: the reconcile
    categories through ``category_pages``).
    """
    wiki: RecentChanges = client if client is not None else WikiClient(settings["wiki"])
    feed = bool(settings["wiki"].get("feed"))
    report = PollReport()
    with store.session() as session:
        cursor = read_stored_cursor(session)
    if cursor is None:
        report.started_fresh = True
        report.cursor = wiki.latest_cursor()
        if report.cursor is not None:
            with store.session() as session:
                store_cursor(session, report.cursor)
        log.info("wiki poll: no cursor yet, starting from %s", report.cursor)
        return report
    oldest = wiki.oldest_change_timestamp()
    if oldest is not None and read_cursor(cursor)[0] < oldest:
        log.warning(
            "wiki poll: cursor %s is older than the oldest kept change (%s); reconciling",
            cursor,
            oldest.isoformat(),
        )
        return _reconcile(store, wiki, list_pages or category_pages, report)
    report.cursor = cursor
    # Changes up to this moment had time to come through the feed, when there is one.
    announced_by = clock.now() - timedelta(seconds=FEED_GRACE_SECONDS)
    for change in wiki.recent_changes(cursor):
        with store.session() as session:
            if inbox.record(session, change_event(change)):
                report.recorded += 1
                if feed and change.timestamp <= announced_by:
                    report.gaps.append(change.rcid)
            else:
                report.duplicates += 1
            store_cursor(session, change.cursor)
        report.cursor = change.cursor
    if report.gaps:
        telemetry.count_feed_gaps(len(report.gaps))
        log.warning(
            "wiki poll: %d change(s) never came through the wiki feed, recorded now: rcids %s",
            len(report.gaps),
            ", ".join(map(str, report.gaps[:20])) + (" …" if len(report.gaps) > 20 else ""),
        )
    return report


def _reconcile(
    store: Store, wiki: RecentChanges, list_pages: PageLister, report: PollReport
) -> PollReport:
    report.cursor_too_old = True
    # Read the newest change first: anything after it is read by the next poll.
    latest = wiki.latest_cursor()
    for page in list_pages(wiki):
        with store.session() as session:
            event = reconcile_event(page.title, page.pageid, page.revid, page.timestamp, page.user)
            if inbox.record(session, event):
                report.reconciled += 1
            else:
                report.duplicates += 1
    if latest is not None:
        with store.session() as session:
            store_cursor(session, latest)
    report.cursor = latest
    return report
