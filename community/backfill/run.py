"""One run of the backfill: the wiki's pages, then the forum's posts and likes, each from
where its cursor stands, spending the forum budget at its lowest priority (a backfill
waits behind every event, sync and refresh)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from community.backfill import cursors
from community.backfill.forum import ForumReport, backfill_likes, backfill_posts
from community.backfill.wiki import backfill_wiki
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core import forum_budget
from core.config import Settings

SCAN = "scan"  # the forum budget's priority for backfills and scans
# (source, done, in all when known): the CLI draws its bars from it.
Progress = Callable[[str, int, int | None], None]


@dataclass
class BackfillReport:
    pages: int = 0
    forum: ForumReport = field(default_factory=ForumReport)
    complete: bool = False  # every chosen source read to its beginning

    def headline(self) -> str:
        f = self.forum
        state = "complete" if self.complete else "stopped; run again to continue"
        return (
            f"backfill {state}: {self.pages} wiki pages, {f.posts} forum posts, "
            f"{f.solutions} solutions, likes of {f.likers} people ({f.likes} credited)"
        )


def chosen_sources(*, wiki: bool, forum: bool) -> tuple[str, ...]:
    """The cursors of the chosen sources (both when neither is named)."""
    if not wiki and not forum:
        wiki = forum = True
    return (cursors.WIKI,) * wiki + (cursors.POSTS, cursors.LIKES) * forum


def run_backfill(
    batch: cursors.Batch,
    settings: Settings,
    *,
    sources: tuple[str, ...] = cursors.SOURCES,
    wiki: WikiClient | None = None,
    forum: ForumClient | None = None,
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> BackfillReport:
    """Read the chosen sources until done or until ``keep_going`` says stop (checked
    between batches); a source without a configured platform counts as done."""
    report = BackfillReport()

    def step(name: str) -> Callable[[int, int | None], None] | None:
        return None if progress is None else (lambda done, total: progress(name, done, total))

    if cursors.WIKI in sources and settings["wiki"].get("url"):
        wiki = wiki or WikiClient(settings["wiki"])
        report.pages = backfill_wiki(
            batch, wiki, settings, progress=step("wiki"), keep_going=keep_going
        )
    if settings["forum"].get("url") and {cursors.POSTS, cursors.LIKES} & set(sources):
        forum = forum or ForumClient(settings["forum"])
        with forum_budget.priority(SCAN):
            if cursors.POSTS in sources:
                backfill_posts(
                    batch,
                    forum,
                    settings,
                    report.forum,
                    progress=step("posts"),
                    keep_going=keep_going,
                )
            if cursors.LIKES in sources:
                backfill_likes(
                    batch,
                    forum,
                    settings,
                    report.forum,
                    progress=step("likes"),
                    keep_going=keep_going,
                )
    with batch() as session:
        report.complete = all(
            cursors.is_done(session, name) or not _configured(settings, name) for name in sources
        )
    return report


def _configured(settings: Settings, name: str) -> bool:
    platform = "wiki" if name == cursors.WIKI else "forum"
    return bool(settings[platform].get("url"))
