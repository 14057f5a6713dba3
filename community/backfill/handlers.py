"""The backfill the service runs by itself: on its first start, through the inbox.

The polling worker records ``schedule.backfill`` once (a fixed event id, so every later
start and every other worker finds it there) while no backfill has completed. Its handler
reads for at most a third of the lease, committing each batch with its cursor, and then
records the next chunk's event when work remains: no claim is held past its lease, a
killed process leaves its chunk to be claimed again (and it resumes at the cursor), and
the forum budget's deadline puts a chunk back, without counting an attempt, when the
forum is busy. Only the platforms that worker polls are read: the backfill is the past
of what the polls read live.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from community.backfill import cursors
from community.backfill.run import run_backfill
from community.backfill.sections import refresh_every_section
from community.handling import HandlerContext
from community.health.runs import recompute_everything
from core import clock, event_kinds, inbox
from core.config import Settings
from core.events import Event

log = logging.getLogger("constellate.backfill")
CHUNK_SHARE = 1 / 3  # of the lease: the rest is left for settling and the budget's waits


def sources_polled(settings: Settings) -> tuple[str, ...]:
    """The sources of the platforms the worker reads on schedule."""
    worker = settings["worker"]
    wiki = bool(settings["wiki"].get("url")) and float(worker["wiki_poll_seconds"]) > 0
    forum = bool(settings["forum"].get("url")) and float(worker["forum_poll_seconds"]) > 0
    return (cursors.WIKI,) * wiki + (cursors.POSTS, cursors.LIKES) * forum


def first_start_event(session: Session, settings: Settings, now: datetime) -> Event | None:
    """The first chunk's event, when this deployment reads history on its first start
    and has not read it all yet; None otherwise."""
    sources = sources_polled(settings)
    if not settings["worker"]["backfill_on_first_start"] or not sources:
        return None
    if cursors.completed(session, sources):
        return None
    return _chunk(0, sources, now)


def _chunk(number: int, sources: tuple[str, ...], now: datetime) -> Event:
    return Event(
        event_id=f"schedule:backfill:{number}",
        kind=event_kinds.BACKFILL_DUE,
        source="schedule",
        subject="backfill",
        actor=None,
        occurred_at=now,
        delivery_id=None,
        payload={"chunk": number, "sources": list(sources)},
    )


def continue_backfill(event: Event, ctx: HandlerContext) -> None:
    """schedule.backfill: read on from the cursors for a while; the next chunk is
    recorded when work remains."""
    sources = tuple(str(s) for s in event.payload["sources"])
    if cursors.completed(ctx.session, sources):
        return
    end = clock.now() + timedelta(
        seconds=float(ctx.settings["worker"]["lease_seconds"]) * CHUNK_SHARE
    )

    @contextmanager
    def batch() -> Iterator[Session]:
        # Each batch is committed at once: a later failure keeps what earlier ones did.
        yield ctx.session
        ctx.session.commit()

    report = run_backfill(
        batch,
        ctx.settings,
        sources=sources,
        wiki=ctx.wiki() if cursors.WIKI in sources else None,
        forum=ctx.forum() if cursors.POSTS in sources else None,
        keep_going=lambda: clock.now() < end,
    )
    log.info("chunk %s: %s", event.payload["chunk"], report.headline())
    if not report.complete:
        inbox.record(ctx.session, _chunk(int(event.payload["chunk"]) + 1, sources, clock.now()))
    elif ctx.settings["forum"].get("url"):
        # The history is in: the figures and every page's section show it now, not at the
        # next post in each category.
        recompute_everything(ctx.session, ctx.settings)
        ctx.commit_so_far()
        written = refresh_every_section(ctx.session, ctx.settings, ctx.wiki(), ctx.forum())
        log.info("history read: %d sections written", written)
