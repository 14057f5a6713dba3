"""The worker's credit duties: badges granted (and revoked for people who opted out) and
identity-link suggestions refreshed, on a schedule, soon after the events that can change
them, and when a moderator asks on the People page (which only queues the work)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from community.constellations.handlers import ask_for_section_refresh
from community.constellations.models import PageTopicLink
from community.credits import people
from community.credits.badges import award_badges
from community.handling import HandlerContext
from community.practices.models import Practice
from community.practices.section import refresh_practice_section
from core import clock, event_kinds, inbox
from core.events import Event, slot_event

log = logging.getLogger(__name__)

DUTIES = {"badges": event_kinds.BADGES_DUE, "suggestions": event_kinds.SUGGESTIONS_DUE}


def schedule_event(duty: str, now: datetime, every_hours: float) -> Event:
    """The duty's run of the slot ``now`` falls in (one per slot, however many workers)."""
    seconds = max(every_hours, 1 / 3600) * 3600
    return slot_event(
        DUTIES[duty], duty, f"{every_hours:g}h", now, seconds, {"every_hours": every_hours}
    )


def request_event(duty: str, requested_by: str, *, now: datetime) -> Event:
    """A moderator's "run now": its own event, so a later request is new work."""
    return Event(
        event_id=f"dashboard:{duty}:{uuid.uuid4().hex}",
        kind=DUTIES[duty],
        source="community",
        subject=duty,
        actor=None,  # requested_by is a person; the actor field would be echo-checked
        occurred_at=now,
        delivery_id=None,
        payload={"requested_by": requested_by},
    )


def ask_soon(session: Any, settings: Any, duty: str) -> None:
    """The first event of an interval of ``credits.after_event_minutes`` runs the duty at
    once; later ones ask for one run at the start of the next interval (the inbox keeps
    one event per interval), so a busy hour costs a few runs and none is later than an
    interval after its event."""
    seconds = float(settings["credits"]["after_event_minutes"]) * 60
    now = clock.now()
    slot = int(now.timestamp() // seconds)
    if not _record_soon(session, duty, seconds, slot, now):
        _record_soon(
            session, duty, seconds, slot + 1, datetime.fromtimestamp((slot + 1) * seconds, UTC)
        )


def _record_soon(session: Any, duty: str, seconds: float, slot: int, due: datetime) -> bool:
    event = Event(
        event_id=f"soon:{duty}:{seconds:g}s:{slot}",
        kind=DUTIES[duty],
        source="schedule",
        subject=duty,
        actor=None,
        occurred_at=due,
        delivery_id=None,
        payload={"after_event": True},
    )
    return inbox.record(session, event, available_at=due)


# -- handlers -----------------------------------------------------------------------------


def award(event: Event, ctx: HandlerContext) -> None:
    """schedule.badges: grant what was earned, revoke what opted-out people hold."""
    if not ctx.settings.get("forum", {}).get("url"):
        return
    wiki = ctx.wiki() if ctx.settings.get("wiki", {}).get("url") else None
    done = award_badges(ctx.session, ctx.forum(), ctx.settings, wiki=wiki)
    if done:
        log.info("badges: %d granted or revoked", len(done))


def suggest(event: Event, ctx: HandlerContext) -> None:
    """schedule.identity_suggestions: new link suggestions from both platforms' accounts."""
    if not ctx.settings.get("forum", {}).get("url"):
        return
    made = people.suggest_links(ctx.session, ctx.wiki(), ctx.forum())
    if made:
        log.info("people: %d new link suggestions", len(made))


def badges_soon(event: Event, ctx: HandlerContext) -> None:
    """An event that can change who earned a badge (a reply, an adoption, a partner
    group's membership) asks for a badges run soon."""
    if ctx.settings.get("forum", {}).get("url"):
        ask_soon(ctx.session, ctx.settings, "badges")


def suggestions_soon(event: Event, ctx: HandlerContext) -> None:
    """A new wiki account may be someone's forum account: suggestions soon."""
    if event.payload.get("log_type") == "newusers" and ctx.settings.get("forum", {}).get("url"):
        ask_soon(ctx.session, ctx.settings, "suggestions")


def privacy_changed(event: Event, ctx: HandlerContext) -> None:
    """community.privacy_changed: a person opted out or back in. Their badges are revoked
    or granted again now, every constellation section is asked to name them or not (in
    the usual coalesced way), and practice sections are rewritten where their credits
    block changed."""
    if ctx.settings.get("forum", {}).get("url"):
        award(event, ctx)
        links = select(PageTopicLink.wiki_page_id).where(
            PageTopicLink.archived_at.is_(None), PageTopicLink.forum_topic_id.is_not(None)
        )
        for page_id in list(ctx.session.scalars(links)):
            ask_for_section_refresh(ctx.session, ctx.settings, page_id)
    if ctx.settings.get("wiki", {}).get("url"):
        live = select(Practice).where(Practice.deleted_at.is_(None)).order_by(Practice.page_id)
        for practice in list(ctx.session.scalars(live)):
            refresh_practice_section(ctx.session, ctx.wiki(), ctx.settings, practice)
