"""Constellation sync: wiki pages -> forum categories and charter topics, forum -> wiki
section, and the leadership timeline, one page at a time.

All pages are read with one batched ``read_pages`` call (50 or 500 titles a request);
each page is then synced in its own transaction, so a failure never leaves a page
half-synced and the pages before it stay done.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from community.constellations.charter import Charter, CharterError, parse_charter
from community.constellations.forum_mirror import forum_link, sync_to_forum
from community.constellations.leadership import update_timeline, with_lead_since
from community.constellations.models import (
    PageTopicLink,
    record_issue,
    record_malformed,
    resolve_issues,
)
from community.constellations.revision_mark import left_at, mark, unchanged_since_sync
from community.constellations.rotation import follow_lead
from community.constellations.sync_runs import RunRecord, scope_of, start_run
from community.constellations.wiki_section import update_wiki_section
from community.partners.registry import check_named_partners
from connectors.discourse.client import ForumClient
from connectors.mediawiki import EditResult, WikiClient, WikiPage
from core.config import Settings
from core.errors import ConnectorError, describe
from core.store import Store

CATEGORY = "Category:Constellations"
# ForumOutcome.action -> the SyncSummary counter it adds to.
COUNTERS = {
    "created": "created",
    "updated": "updated",
    "unchanged": "unchanged",
    "merged": "merged",
    "conflict": "conflicts",
    "renamed": "renamed",
    "archived": "archived",
    "restored": "restored",
    "skipped": "skipped",
}
QUIET = {"unchanged"}  # outcomes that get no line of their own


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    conflicts: int = 0
    renamed: int = 0
    archived: int = 0
    restored: int = 0
    malformed: int = 0
    skipped: int = 0
    wiki_sections_written: int = 0
    leadership_changes: int = 0
    lines: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lines"}

    def headline(self) -> str:
        """One line: every non-zero count (or "nothing to do")."""
        shown = [
            f"{count} {name.replace('_', ' ')}" for name, count in self.counts().items() if count
        ]
        return "sync: " + (", ".join(shown) if shown else "nothing to do")

    def add(self, other: SyncSummary) -> None:
        for name, count in other.counts().items():
            setattr(self, name, getattr(self, name) + count)
        self.lines.extend(other.lines)


def sync_constellations(
    store: Store,
    settings: Settings,
    *,
    titles: Iterable[str] | None = None,
    full: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    wiki: WikiClient | None = None,
    forum: ForumClient | None = None,
    trigger: str = "command",
    requested_by: str | None = None,
) -> SyncSummary:
    """Sync the pages named by ``titles`` (incremental), or with ``full`` every
    constellation page and every page linked to the forum. ``dry_run`` writes nothing
    anywhere (wiki, forum or store). ``wiki``/``forum`` default to clients made from
    ``settings``. The run is recorded (community.constellations.sync_runs) with ``trigger`` and
    ``requested_by``, unless it is a dry run."""
    titles = list(titles or [])
    run = start_run(
        store,
        trigger=trigger,
        scope=scope_of(titles, full),
        requested_by=requested_by,
        dry_run=dry_run,
    )
    summary = SyncSummary()
    try:
        _sync_pages(
            store,
            settings,
            summary,
            run,
            titles=titles,
            full=full,
            dry_run=dry_run,
            progress=progress,
            wiki=wiki,
            forum=forum,
        )
    except BaseException as exc:
        run.finish(summary.counts(), error=describe(exc))
        raise
    run.finish(summary.counts())
    return summary


def _sync_pages(
    store: Store,
    settings: Settings,
    summary: SyncSummary,
    run: RunRecord,
    *,
    titles: list[str],
    full: bool,
    dry_run: bool,
    progress: bool,
    wiki: WikiClient | None,
    forum: ForumClient | None,
) -> None:
    wiki = wiki or WikiClient(settings["wiki"])
    forum = forum or ForumClient(settings["forum"])
    with store.session() as session:
        wanted = wanted_titles(session, wiki, titles=titles, full=full)
    pages = existing_first(wiki.read_pages(wanted) if wanted else {})
    bar: Iterator[WikiPage] = tqdm(
        pages, desc="constellations", unit="page", file=sys.stderr, disable=not progress
    )
    seen: set[int] = set()
    for page in bar:
        # A moved page can be named twice (its new title and the link's old one).
        if page.pageid is not None and page.exists:
            if page.pageid in seen:
                continue
            seen.add(page.pageid)
        try:
            with _transaction(store, dry_run) as session:
                done = sync_page(session, wiki, forum, settings, page=page, dry_run=dry_run)
            summary.add(done)
            run.page_synced(done.counts())
        except ConnectorError as exc:
            # One page the forum or the wiki refuses must not stop the others; it is
            # reported, and the next sync tries it again.
            run.page_failed()
            summary.skipped += 1
            summary.lines.append(f"error: {page.title}: {type(exc).__name__}: {exc}")
            if not dry_run:
                with store.session() as session:
                    record_issue(
                        session,
                        kind="error",
                        wiki_title=page.title,
                        detail=f"{type(exc).__name__}: {exc}",
                        wiki_page_id=page.pageid,
                    )


def sync_titles(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Settings,
    titles: Iterable[str],
    *,
    dry_run: bool = False,
) -> SyncSummary:
    """Sync a few pages in the caller's transaction (a pipeline handler's session)."""
    summary = SyncSummary()
    wanted = list(dict.fromkeys(t for t in titles if t.strip()))
    for page in existing_first(wiki.read_pages(wanted) if wanted else {}):
        summary.add(sync_page(session, wiki, forum, settings, page=page, dry_run=dry_run))
    return summary


def existing_first(pages: Mapping[str, WikiPage]) -> list[WikiPage]:
    """Pages that exist before missing ones: a page moved without a redirect is then
    synced under its new title before its old title could archive its topic."""
    return sorted(pages.values(), key=lambda page: not page.exists)


def _transaction(store: Store, dry_run: bool) -> AbstractContextManager[Session]:
    if not dry_run:
        return store.session()
    # A dry run reads the store but must leave it as it was: roll everything back.
    return _rolled_back(store)


class _rolled_back(AbstractContextManager[Session]):
    def __init__(self, store: Store) -> None:
        self._session = Session(store.engine)

    def __enter__(self) -> Session:
        return self._session

    def __exit__(self, *exc: Any) -> None:
        self._session.rollback()
        self._session.close()


def wanted_titles(
    session: Session, wiki: WikiClient, *, titles: Iterable[str] | None, full: bool
) -> list[str]:
    """The titles to read: the given ones, plus with ``full`` every page in the
    constellations category and every linked page (so deleted ones get archived)."""
    wanted = list(titles or [])
    if full:
        wanted += [head.title for head in wiki.category_members([CATEGORY])]
        wanted += session.scalars(select(PageTopicLink.wiki_title)).all()
    return list(dict.fromkeys(t for t in wanted if t.strip()))


def sync_page(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Settings,
    *,
    page: WikiPage,
    dry_run: bool = False,
) -> SyncSummary:
    """One page read by ``read_pages``: parse, forum, wiki section, timeline."""
    summary = SyncSummary()
    if not page.exists or page.pageid is None:
        return _sync_gone(session, forum, settings, page=page, dry_run=dry_run)
    try:
        charter = parse_charter(page.title, page.text)
    except CharterError as error:
        summary.malformed += 1
        summary.lines.append(f"malformed: {error}")
        if not dry_run:
            record_malformed(session, title=page.title, page_id=page.pageid, error=error)
        return summary
    if not dry_run:
        for kind in ("malformed", "error"):
            resolve_issues(session, kind=kind, wiki_title=page.title, wiki_page_id=page.pageid)
    if charter is None and forum_link(session, page.pageid) is None:
        return summary  # not a constellation page, and never was (or a move's redirect)
    if charter is not None and not dry_run:
        check_named_partners(
            session,
            title=page.title,
            page_id=page.pageid,
            named={"lead_partner": [charter.lead_partner], "partners": charter.partners},
        )
    # A page at the revision its last sync left it at costs only the batched read: its
    # history holds nothing new, and its section's forum inputs come by their own events.
    moved = not unchanged_since_sync(session, page)
    if not dry_run and moved:
        summary.leadership_changes += update_timeline(
            session, wiki, title=page.title, page_id=page.pageid, head=page
        )
    if charter is not None:
        charter = with_lead_since(session, charter, page.pageid)
    outcome = sync_to_forum(session, forum, settings, page=page, charter=charter, dry_run=dry_run)
    _count(summary, page.title, outcome.action, outcome.detail)
    link = forum_link(session, page.pageid)
    followed = None
    if charter is not None and link is not None and not dry_run:
        followed = follow_lead(session, forum, settings, link, charter)
    if followed == "announced":
        summary.lines.append(f"lead partner changed: {page.title}: announced on the forum")
    # The wiki write comes last: nothing after it can roll back the record of what we
    # wrote, which tells our own section from a person's edit next time.
    saved: list[EditResult] = []
    if charter is not None and (moved or outcome.action != "unchanged"):
        _sync_section(session, wiki, forum, settings, summary, page, charter, dry_run, saved)
    left = left_at(page, saved)
    if not dry_run and left is not None:
        mark(session, page.pageid, left)  # last: a sync that failed before is done again
    return summary


def _sync_section(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Settings,
    summary: SyncSummary,
    page: WikiPage,
    charter: Charter,
    dry_run: bool,
    saved: list[EditResult],
) -> None:
    assert page.pageid is not None
    link = forum_link(session, page.pageid)
    if link is None or link.forum_topic_id is None or link.archived_at is not None:
        return  # nothing on the forum to show yet (a dry run, or an archived page)
    result = update_wiki_section(
        session,
        wiki,
        forum,
        settings,
        charter=charter,
        link=link,
        dry_run=dry_run,
        page=page,
        on_saved=saved.append,
    )
    if result == "written":
        summary.wiki_sections_written += 1
        summary.lines.append(f"wiki section written: {page.title}")
    elif result == "conflict":
        summary.conflicts += 1
        summary.lines.append(f"conflict: {page.title}: the wiki section could not be written")


def _sync_gone(
    session: Session, forum: ForumClient, settings: Settings, *, page: WikiPage, dry_run: bool
) -> SyncSummary:
    """A page that does not exist: if it was linked, archive its forum side (never
    delete). A moved page is synced under its new title, found by page id."""
    summary = SyncSummary()
    link = session.scalars(
        select(PageTopicLink).where(PageTopicLink.wiki_title == page.title)
    ).first()
    if link is None:
        summary.skipped += 1
        summary.lines.append(f"skipped: {page.title}: no such page")
        return summary
    if link.archived_at is not None:
        summary.unchanged += 1  # archived already: nothing to do
        return summary
    missing = WikiPage(
        title=link.wiki_title,
        exists=False,
        pageid=link.wiki_page_id,
        text="",
        revid=None,
        timestamp=None,
        start_timestamp=page.start_timestamp,
    )
    outcome = sync_to_forum(session, forum, settings, page=missing, charter=None, dry_run=dry_run)
    _count(summary, link.wiki_title, outcome.action, outcome.detail)
    return summary


def _count(summary: SyncSummary, title: str, action: str, detail: str) -> None:
    counter = COUNTERS.get(action, "skipped")
    setattr(summary, counter, getattr(summary, counter) + 1)
    if action not in QUIET:
        summary.lines.append(f"{action}: {title}" + (f": {detail}" if detail else ""))
