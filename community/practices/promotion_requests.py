"""The worker's side of the Practices page's Promote button.

Promotion writes a wiki page and tags a forum topic, so the page only records the
request (an inbox event) and the worker promotes. A refusal that trying again cannot
cure (a title taken, an author in no partner organisation) is written on the suggestion
for the moderator to read, instead of being retried; platform outages are retried by
the worker as usual.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.handling import HandlerContext
from community.practices.models import PracticeSuggestion
from community.practices.promotion import PromotionError, promote
from core import event_kinds, inbox
from core.events import Event
from core.models import InboxEvent

IN_FLIGHT = ("pending", "claimed")
log = logging.getLogger(__name__)


def subject_of(suggestion_id: int) -> str:
    return f"practice_suggestion:{int(suggestion_id)}"


def promotion_event(
    suggestion: PracticeSuggestion,
    requested_by: str,
    *,
    title: str | None,
    organisation: str | None,
    now: datetime,
) -> Event:
    """A moderator asked to promote a candidate. Each request is its own event: a request
    refused for a taken title may be made again with another title."""
    return Event(
        event_id=f"dashboard:promote:{suggestion.id}:{uuid.uuid4().hex}",
        kind=event_kinds.PROMOTION_REQUESTED,
        source="community",
        subject=subject_of(suggestion.id),
        actor=None,  # requested_by is a person; the actor field would be echo-checked
        occurred_at=now,
        delivery_id=None,
        payload={
            "suggestion_id": suggestion.id,
            "topic_id": suggestion.topic_id,
            "title": title,
            "organisation": organisation,
            "requested_by": requested_by,
        },
    )


def is_queued(session: Session, suggestion_id: int) -> bool:
    """Whether a promotion request for the suggestion waits for (or is with) the worker."""
    query = select(InboxEvent.id).where(
        InboxEvent.kind == event_kinds.PROMOTION_REQUESTED,
        InboxEvent.subject == subject_of(suggestion_id),
        InboxEvent.state.in_(IN_FLIGHT),
    )
    return session.scalars(query.limit(1)).first() is not None


def request_promotion(
    session: Session,
    suggestion: PracticeSuggestion,
    requested_by: str,
    *,
    title: str | None,
    organisation: str | None,
    now: datetime,
) -> Event:
    """Record the request in the inbox; the refusal written by an earlier one is cleared,
    as it no longer describes the request in flight."""
    event = promotion_event(
        suggestion, requested_by, title=title, organisation=organisation, now=now
    )
    inbox.record(session, event)
    suggestion.detail = None
    session.flush()
    return event


def promote_requested(event: Event, ctx: HandlerContext) -> None:
    """dashboard.practice_promotion_requested: promote the suggestion's topic, unless it
    was promoted or dismissed meanwhile (then there is nothing left to do)."""
    payload = event.payload
    suggestion = ctx.session.get(PracticeSuggestion, int(payload["suggestion_id"]))
    if suggestion is None or suggestion.state != "open" or suggestion.topic_id is None:
        return
    try:
        promote(
            ctx.session,
            ctx.wiki(),
            ctx.forum(),
            ctx.settings,
            topic_id=suggestion.topic_id,
            title=payload.get("title") or None,
            organisation=payload.get("organisation") or None,
            moderator=payload.get("requested_by") or None,
        )
    except PromotionError as refused:
        log.info("promotion of suggestion %s refused: %s", suggestion.id, refused)
        suggestion.detail = f"Promotion refused: {refused}"
        ctx.session.flush()
        return
    suggestion.detail = None
    ctx.session.flush()
