"""Pipeline handlers that keep constellations in sync as changes arrive.

A wiki change to a page syncs that page (idempotent: a page that did not change makes
no writes); a forum post or topic in a linked category, and new health figures or credit,
ask for the bot section on that constellation's wiki page to be refreshed, at most once per
page and interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.constellations.charter import CharterError, parse_charter
from community.constellations.models import PageTopicLink
from community.constellations.revision_mark import follow_own_edit
from community.constellations.sync import sync_titles
from community.constellations.wiki_section import (
    figures_digest,
    figures_shown,
    update_wiki_section,
)
from community.handling import HandlerContext
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient
from core import clock, event_kinds, forum_budget, inbox
from core.config import Settings
from core.events import Event
from core.page_titles import main_titles


def sync_wiki_page(event: Event, ctx: HandlerContext) -> None:
    """wiki.edit/new/move/delete/restore/reconcile: sync the page (both names for a move).

    Pages that are not constellations and were never linked cost one read, no writes.
    """
    if not ctx.settings.get("forum", {}).get("url"):
        return  # no forum to mirror to
    titles = main_titles(event)
    if titles:
        sync_titles(ctx.session, ctx.wiki(), ctx.forum(), ctx.settings, titles)


def schedule_section_refresh(event: Event, ctx: HandlerContext) -> None:
    """forum.post_*/topic_*: a change in a constellation's category asks for its wiki
    section to be refreshed, coalesced to one refresh per page per
    ``section_refresh_minutes`` (a busy page must not spend the budgets per post)."""
    if not ctx.settings.get("forum", {}).get("url"):
        return
    item: Mapping[str, Any] = event.payload.get("post") or event.payload.get("topic") or {}
    category_id = item.get("category_id")
    if category_id is None:
        return
    link = ctx.session.scalars(
        select(PageTopicLink).where(
            PageTopicLink.forum_category_id == int(category_id),
            PageTopicLink.archived_at.is_(None),
        )
    ).first()
    if link is not None and link.forum_topic_id is not None:
        ask_for_section_refresh(ctx.session, ctx.settings, link.wiki_page_id)


def refresh_sections_behind(event: Event, ctx: HandlerContext) -> None:
    """health.recompute: every constellation whose section's health figures, credit or
    issues now differ from what it last showed asks for a refresh (one whose figures did
    not change costs nothing). forum.post_liked and a solution accepted or withdrawn
    change the credit of the post's constellation: it asks at once. Coalesced like any
    other refresh."""
    if not ctx.settings.get("forum", {}).get("url"):
        return
    query = select(PageTopicLink).where(
        PageTopicLink.archived_at.is_(None), PageTopicLink.forum_topic_id.is_not(None)
    )
    if event.kind != event_kinds.HEALTH_RECOMPUTE:
        post: Mapping[str, Any] = event.payload.get("like", {}).get("post") or event.payload.get(
            "solved", {}
        )
        if post.get("category_id") is None:
            return
        category = query.where(PageTopicLink.forum_category_id == int(post["category_id"]))
        for link in ctx.session.scalars(category).all():
            ask_for_section_refresh(ctx.session, ctx.settings, link.wiki_page_id)
        return
    # Compared first, asked after: the asks write, and a write holds SQLite's one lock.
    behind = [
        link.wiki_page_id
        for link in ctx.session.scalars(query).all()
        if figures_shown(ctx.session, link.wiki_page_id)
        != figures_digest(ctx.session, ctx.settings, link)
    ]
    for page_id in behind:
        ask_for_section_refresh(ctx.session, ctx.settings, page_id)


def ask_for_section_refresh(session: Session, settings: Settings, page_id: int) -> None:
    """The first change of an interval refreshes the page's section at once; later ones
    ask for one refresh at the start of the next interval. The inbox keeps one event per
    page and interval (its id names both), so a page is refreshed at most once per
    interval however busy it is, and never later than one interval after a change."""
    seconds = float(settings["constellations"]["section_refresh_minutes"]) * 60
    now = clock.now()
    slot = int(now.timestamp() // seconds)
    next_start = datetime.fromtimestamp((slot + 1) * seconds, UTC)
    if not _record_refresh(session, page_id, f"{seconds:g}s:{slot}", now, due=now):
        _record_refresh(session, page_id, f"{seconds:g}s:{slot + 1}", now, due=next_start)


def _record_refresh(
    session: Session, page_id: int, interval: str, now: datetime, *, due: datetime
) -> bool:
    return inbox.record(
        session,
        Event(
            event_id=f"section:{page_id}:{interval}",
            kind=event_kinds.SECTION_REFRESH,
            source="schedule",
            subject=f"page:{page_id}",
            actor=None,
            occurred_at=now,
            delivery_id=None,
            payload={"page_id": page_id},
        ),
        available_at=due,
    )


def refresh_section(event: Event, ctx: HandlerContext) -> None:
    """constellation.section_refresh: rewrite the page's bot section from the store
    (written only when its text changes)."""
    link = ctx.session.scalars(
        select(PageTopicLink).where(
            PageTopicLink.wiki_page_id == int(event.payload["page_id"]),
            PageTopicLink.archived_at.is_(None),
        )
    ).first()
    if link is not None:
        refresh_constellation_section(ctx.session, ctx.settings, ctx.wiki(), ctx.forum(), link)


def refresh_constellation_section(
    session: Session, settings: Settings, wiki: WikiClient, forum: ForumClient, link: PageTopicLink
) -> str:
    """The linked page's bot section from the store: "written", "unchanged" or
    "conflict"; "unchanged" too when the page is not a readable charter any more (its
    own sync reports that)."""
    if link.forum_topic_id is None:
        return "unchanged"
    page = wiki.read_pages([link.wiki_title])[link.wiki_title]
    if not page.exists or page.pageid != link.wiki_page_id:
        return "unchanged"  # moved or deleted: the wiki's own events sync it
    try:
        charter = parse_charter(page.title, page.text)
    except CharterError:
        return "unchanged"  # reported by the page sync; the section waits for a fixed page
    if charter is None:
        return "unchanged"
    page_id = link.wiki_page_id
    with forum_budget.priority("section"):
        return update_wiki_section(
            session,
            wiki,
            forum,
            settings,
            charter=charter,
            link=link,
            page=page,
            # Our edit is no change to the next resync (it reads no history for it).
            on_saved=lambda edit: follow_own_edit(session, page_id, edit),
        )
