"""The wiki's history of every constellation, practice and partner page, read into what
the live path keeps of it: surviving-text and page-created credit (``update_page_credit``),
the leadership timeline with its real dates (``update_timeline``), and one
``WikiChangeActivity`` row per revision (what freshness and stale charters read).

One page is one batch, committed with the cursor (the last page id done); pages are taken
in page-id order, so a stopped run resumes after the last page it finished. Each reader
keeps its own per-page cursor as well (authorship, timeline), so a page done twice, or
edited live in between, is read only from where it stood.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import WikiChangeActivity
from community.backfill import cursors
from community.constellations.leadership import update_timeline
from community.constellations.sync import CATEGORY as CONSTELLATIONS
from community.credits.wiki_credit import update_page_credit
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import PageHead, WikiRevision
from core.config import Settings
from core.errors import NotFound
from core.store import dialect_insert

RECONCILED = "reconcile"  # the type of a row a reconcile wrote: it names no edit
Progress = Callable[[int, int], None]  # (pages done, pages in all)


def categories(settings: Settings) -> tuple[str, ...]:
    """The categories whose pages have history worth reading, as configured."""
    return (CONSTELLATIONS, settings["practices"]["category"], settings["partners"]["category"])


def backfill_wiki(
    batch: cursors.Batch,
    wiki: WikiClient,
    settings: Settings,
    *,
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Read the pages not done yet; returns how many were read this time. Stops early
    (its cursor kept) when ``keep_going`` says so between pages."""
    with batch() as session:
        state = cursors.read(session, cursors.WIKI)
    if state.get("done"):
        return 0
    pages, constellations = _pages(wiki, categories(settings))
    after = int(state.get("after") or 0)
    todo = [page for page in pages if page.pageid > after]
    read = 0
    for page in todo:
        if not keep_going():
            return read
        with batch() as session:
            backfill_page(
                session, wiki, settings, page, constellation=page.pageid in constellations
            )
            cursors.write(session, cursors.WIKI, {"after": page.pageid, "done": False})
        read += 1
        if progress is not None:
            progress(len(pages) - len(todo) + read, len(pages))
    with batch() as session:
        cursors.write(session, cursors.WIKI, {"after": after, "done": True})
    return read


def _pages(wiki: WikiClient, names: Iterable[str]) -> tuple[list[PageHead], set[int]]:
    """The pages of the categories in page-id order, and which are constellations."""
    seen: dict[int, PageHead] = {}
    constellations: set[int] = set()
    for name in names:
        for page in wiki.category_members([name]):
            seen.setdefault(page.pageid, page)
            if name == CONSTELLATIONS:
                constellations.add(page.pageid)
    return sorted(seen.values(), key=lambda p: p.pageid), constellations


def backfill_page(
    session: Session, wiki: WikiClient, settings: Settings, page: PageHead, *, constellation: bool
) -> None:
    """One page's history, read into authorship credit, its timeline and its changes."""
    update_page_credit(session, wiki, settings, title=page.title, page_id=page.pageid)
    if constellation:
        update_timeline(session, wiki, title=page.title, page_id=page.pageid)
    try:
        revisions = list(wiki.revisions(page.title))
    except NotFound:
        return  # deleted since it was listed: its delete event does the rest
    record_revisions(session, page.title, revisions)


def record_revisions(session: Session, title: str, revisions: list[WikiRevision]) -> int:
    """A change row per revision (``rev:<revid>``, edit or new), skipping the revisions
    the live path recorded already (under ``rc:<rcid>``); a row a reconcile wrote for the
    same revision learns what the revision was. Returns the rows written."""
    change = WikiChangeActivity
    ids = [r.revid for r in revisions]
    live = set(
        session.scalars(
            select(change.revid).where(change.revid.in_(ids), change.change_key.like("rc:%"))
        )
    )
    written = 0
    for revision in revisions:
        if revision.revid in live:
            continue
        values = {
            "user": revision.user,
            "timestamp": revision.timestamp,
            "type": "new" if not revision.parentid else "edit",
        }
        statement = dialect_insert(session, change).values(
            change_key=f"rev:{revision.revid}",
            rcid=None,
            revid=revision.revid,
            title=title,
            **values,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["change_key"], set_=values, where=change.type == RECONCILED
            )
        )
        written += 1
    session.flush()
    return written
