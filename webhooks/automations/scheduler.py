"""The scheduler: which schedule events are due now, recorded in the inbox like any other.

Cron rules keep a cursor (the last slot they fired for). A rule seen for the first time,
or whose expression changed, starts its cursor now and fires nothing; after that the
latest slot in ``(cursor, now]`` fires once, so slots missed while the service was down
make one event, not a burst. Slots are read in ``automations.time_zone`` (a 09:00 slot in
Europe/London is 08:00 UTC in summer). Event ids are made of the slot itself, so two
workers that compute the same slot record one event (the inbox keeps the first).

Beats, unanswered topics and stale charters need no cursor: their event ids name what
they are about, once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from cronsim import CronSim, CronSimError
from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.discourse.client import ForumClient
from core.config import Settings
from core.event_kinds import CRON
from core.events import Event
from core.inbox import record
from core.store import Store, dialect_insert
from webhooks.automations.beats import beat_events, partnership_zone
from webhooks.automations.engine import rules_for
from webhooks.automations.models import ScheduleCursor
from webhooks.automations.scans import stale_events, unanswered_events
from webhooks.automations.triggers import scheduled_parameters
from webhooks.automations.vocabulary import RuleSet

log = logging.getLogger(__name__)

SECOND = timedelta(seconds=1)


def due_events(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    schedules: Sequence[tuple[str, str]],
    unanswered_hours: Iterable[int],
    stale: Iterable[tuple[int, int]],
    forum: ForumClient | None = None,
    dry_run: bool = False,
    beats: bool = True,
) -> list[Event]:
    """Every schedule event due at ``now`` (timezone-aware): cron slots of ``schedules``
    ((rule name, expression) pairs), beat starts (unless ``beats`` is False), topics
    unanswered after each of ``unanswered_hours``, and charters stale by each (days,
    active_days) of ``stale``.

    ``dry_run`` ("what would happen at TIME") reads and writes no cursor: a cron rule is
    due when its expression matches ``now`` to the minute. Otherwise a beat event already
    in the inbox is left out (its facts would cost forum requests every scan).
    """
    zone = partnership_zone(settings)
    events: list[Event] = []
    # The reads first: a cursor write opens the write transaction, which should not be
    # held while the forum is asked for topic titles.
    if beats:
        events += beat_events(session, settings, now=now, forum=forum, skip_recorded=not dry_run)
    events += unanswered_events(session, settings, now=now, hours=unanswered_hours)
    events += stale_events(session, settings, now=now, stale=stale, zone=zone)
    for rule, expression in schedules:
        try:
            slot = latest_slot(expression, now, zone)
        except CronSimError as exc:
            log.warning("schedule of rule %s: %r is no cron expression (%s)", rule, expression, exc)
            continue
        if dry_run:
            fires = slot is not None and slot == now.replace(second=0, microsecond=0)
        else:
            fires = slot is not None and _advance(session, rule, expression, slot, now)
        if fires:
            assert slot is not None
            events.append(cron_event(rule, slot, zone))
    return events


def record_due(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    schedules: Sequence[tuple[str, str]],
    unanswered_hours: Iterable[int],
    stale: Iterable[tuple[int, int]],
    forum: ForumClient | None = None,
    beats: bool = True,
) -> int:
    """Record the due events in the inbox, with the cursors they moved, in one
    transaction; returns how many events were new."""
    with store.session() as session:
        events = due_events(
            session,
            settings,
            now=now,
            schedules=schedules,
            unanswered_hours=unanswered_hours,
            stale=stale,
            forum=forum,
            beats=beats,
        )
        return sum(1 for event in events if record(session, event))


def due_for_rules(
    session: Session,
    settings: Settings,
    rules: RuleSet,
    *,
    now: datetime,
    forum: ForumClient | None = None,
    dry_run: bool = False,
) -> list[Event]:
    """``due_events`` for what ``rules`` trigger on (no beats when no rule wants them)."""
    wanted = scheduled_parameters(rules)
    return due_events(
        session,
        settings,
        now=now,
        schedules=wanted.schedules,
        unanswered_hours=wanted.unanswered_hours,
        stale=wanted.stale,
        forum=forum,
        dry_run=dry_run,
        beats=any(rule.trigger.kind == "beat" for rule in rules.rules),
    )


def record_due_for_rules(
    store: Store, settings: Settings, *, now: datetime, forum: ForumClient | None = None
) -> int:
    """Record what the rules in force (an invalid rules file leaves the built-ins) find
    due; the forum of ``settings`` names open questions when no ``forum`` is given."""
    if forum is None and settings["forum"].get("url"):
        forum = ForumClient(settings["forum"])
    with store.session() as session:
        events = due_for_rules(session, settings, rules_for(settings), now=now, forum=forum)
        return sum(1 for event in events if record(session, event))


def latest_slot(expression: str, until: datetime, zone: tzinfo) -> datetime | None:
    """The last slot of ``expression`` at or before ``until``, in UTC; None when there is
    none. Raises CronSimError for an expression that is not one."""
    # CronSim's reverse iteration starts strictly before its time: one second later
    # makes ``until`` itself a candidate.
    start = until.astimezone(zone).replace(microsecond=0) + SECOND
    try:
        slot = next(CronSim(expression, start, reverse=True))
    except StopIteration:
        return None
    return slot.astimezone(UTC)


def cron_event(rule: str, slot: datetime, zone: tzinfo) -> Event:
    local = slot.astimezone(zone).isoformat()
    return Event(
        event_id=f"schedule:cron:{rule}:{slot.astimezone(UTC).isoformat()}",
        kind=CRON,
        source="schedule",
        subject=f"rule:{rule}",
        actor=None,
        occurred_at=slot.astimezone(UTC),
        delivery_id=None,
        payload={"rule": rule, "slot": local, "facts": {"slot": local}},
    )


def _advance(session: Session, rule: str, expression: str, slot: datetime, now: datetime) -> bool:
    """Move the rule's cursor to ``slot``; True when the slot is new to it (it fires)."""
    cursor = session.get(ScheduleCursor, rule, populate_existing=True)
    if cursor is None:
        statement = dialect_insert(session, ScheduleCursor).values(
            rule=rule, cron=expression, last_slot=now
        )
        session.execute(statement.on_conflict_do_nothing())
        return False
    if cursor.cron != expression:
        cursor.cron, cursor.last_slot = expression, now
        session.flush()
        return False
    if slot <= cursor.last_slot:
        return False
    # Conditional, so a worker that got there first is never moved back.
    session.execute(
        update(ScheduleCursor)
        .where(ScheduleCursor.rule == rule, ScheduleCursor.last_slot < slot)
        .values(last_slot=slot)
        .execution_options(synchronize_session=False)
    )
    session.expire(cursor)
    return True
