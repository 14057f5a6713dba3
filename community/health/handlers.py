"""Health handlers: a forum event updates the health of the scope it touched; the
scheduled event recomputes everything (a quiet constellation has no events to tell us)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from community.activity import PRIVATE_MESSAGE, ForumPostActivity
from community.handling import HandlerContext
from community.health import alerts
from community.health.first_posts import refresh_first_posts
from community.health.inputs import scope_of_category
from community.health.runs import recompute_everything, update_and_alert
from core import clock, event_kinds
from core.events import Event, slot_event


def update_health(event: Event, ctx: HandlerContext) -> None:
    """forum.post_* and forum.topic_*: recompute the scope of the post's category (after
    ``activity`` recorded it) and raise or resolve its alerts."""
    post = event.payload.get("post")
    topic = event.payload.get("topic")
    if post is not None:
        row = ctx.session.scalars(
            select(ForumPostActivity).where(ForumPostActivity.post_id == int(post["id"]))
        ).first()
        if row is None:
            return
        refresh_first_posts(ctx.session, [row.username])
        category_id, private = row.category_id, row.private
    elif topic is not None:
        authors = ctx.session.scalars(
            select(ForumPostActivity.username)
            .where(ForumPostActivity.topic_id == int(topic["id"]))
            .distinct()
        )
        refresh_first_posts(ctx.session, list(authors))  # a deleted topic moves first posts
        category_id, private = topic.get("category_id"), topic.get("archetype") == PRIVATE_MESSAGE
    else:
        return
    if category_id is None or private:
        return
    update_and_alert(ctx.session, ctx.settings, scope_of_category(ctx.session, int(category_id)))
    _tell_forum(ctx)


def recompute_on_schedule(event: Event, ctx: HandlerContext) -> None:
    """The periodic full recompute, as of the moment it runs: its windows end then, not
    at the start of the slot the event names (posts written since would fall in no
    window). Its figures are committed at once, so the sections' comparison after it does
    not hold the store's write lock."""
    recompute_everything(ctx.session, ctx.settings, now=clock.now())
    ctx.commit_so_far()
    _tell_forum(ctx)


def schedule_event(now: datetime, every_minutes: float) -> Event:
    """The scheduled recompute of the slot ``now`` falls in (one per slot)."""
    seconds = max(every_minutes, 1 / 60) * 60
    return slot_event(
        event_kinds.HEALTH_RECOMPUTE,
        "health",
        f"{every_minutes:g}m",
        now,
        seconds,
        {"every_minutes": every_minutes},
    )


def _tell_forum(ctx: HandlerContext) -> None:
    if ctx.settings["forum"].get("url"):
        alerts.notify(ctx.session, ctx.forum(), ctx.settings)
