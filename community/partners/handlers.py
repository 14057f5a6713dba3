"""Pipeline handlers for partners: a wiki change syncs a partner page; the scheduled
event reads every partner group's members again and rewrites the partner sections that
changed (membership webhooks are followed by
``community.partners.affiliation.follow_membership``)."""

from __future__ import annotations

from datetime import datetime

from community.handling import HandlerContext
from community.partners.affiliation import refresh_affiliations
from community.partners.registry import sync_partner_page
from community.partners.section import refresh_partner_sections
from core import event_kinds
from core.events import Event, slot_event
from core.page_titles import main_titles


def sync_partner(event: Event, ctx: HandlerContext) -> None:
    """wiki.edit/new/move/delete/restore/reconcile: sync the page if it is, or was, a
    partner's. Any other page costs one read and no writes."""
    if not ctx.settings.get("forum", {}).get("url"):
        return  # no forum to find the partner's group on
    titles = main_titles(event)
    if not titles:
        return
    wiki = ctx.wiki()
    pages = wiki.read_pages(titles)
    # The moved page (its new title) first, so the old title's redirect finds it done.
    for page in sorted(pages.values(), key=lambda page: not page.exists):
        sync_partner_page(ctx.session, wiki, ctx.forum(), ctx.settings, page)


def refresh_on_schedule(event: Event, ctx: HandlerContext) -> None:
    """schedule.affiliations: every partner group's members read again, and the partner
    pages' sections written where what they show changed."""
    if ctx.settings.get("forum", {}).get("url"):
        refresh_affiliations(ctx.session, ctx.forum())
        refresh_partner_sections(ctx.session, ctx.wiki(), ctx.settings)


def schedule_event(now: datetime, every_hours: float) -> Event:
    """The affiliation refresh of the slot ``now`` falls in (one per slot)."""
    seconds = max(every_hours, 1 / 3600) * 3600
    return slot_event(
        event_kinds.AFFILIATIONS_REFRESH,
        "affiliations",
        f"{every_hours:g}h",
        now,
        seconds,
        {"every_hours": every_hours},
    )
