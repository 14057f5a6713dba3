"""Cron schedules on a frozen clock, on a real store (SQLite and PostgreSQL): slots read in
the partnership's time zone across summer-time changes, one event per slot, missed slots
collapsed, new and changed rules starting afresh, dry runs that touch no cursor."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from community.constellations.models import PageTopicLink
from core.config import DEFAULTS, Settings
from core.event_kinds import BEAT_STARTED, CRON
from core.models import InboxEvent
from core.store import Store
from webhooks.automations.models import ScheduleCursor
from webhooks.automations.rules_file import active_rules
from webhooks.automations.scheduler import (
    due_events,
    due_for_rules,
    latest_slot,
    record_due,
    record_due_for_rules,
)

DAILY = ("daily-digest", "0 9 * * *")
SCAN = timedelta(minutes=10)


def settings(time_zone: str = "Europe/London") -> Settings:
    made = copy.deepcopy(DEFAULTS)
    made["automations"]["time_zone"] = time_zone
    made["forum"].update(url="http://forum.example", api_username="constellate")
    return made


def due(store: Store, config: Settings, now: datetime, *schedules: tuple[str, str]) -> int:
    return record_due(
        store, config, now=now, schedules=schedules, unanswered_hours=[48], stale=[(60, 14)]
    )


def cron_rows(store: Store) -> list[InboxEvent]:
    with store.session() as session:
        query = select(InboxEvent).where(InboxEvent.kind == CRON).order_by(InboxEvent.occurred_at)
        return list(session.scalars(query))


def cursors(store: Store) -> dict[str, tuple[str, datetime]]:
    with store.session() as session:
        return {c.rule: (c.cron, c.last_slot) for c in session.scalars(select(ScheduleCursor))}


def run_clock(store: Store, config: Settings, start: datetime, end: datetime) -> int:
    """Scan every ten minutes of simulated time from ``start`` to ``end``; new events."""
    made, now = 0, start
    while now <= end:
        made += due(store, config, now, DAILY)
        now += SCAN
    return made


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_daily_slot_follows_the_clock_change_to_summer_time(store: Store) -> None:
    # British Summer Time starts on 29 March 2026: 09:00 in London is 08:00 UTC from then.
    made = run_clock(store, settings(), at(2026, 3, 27, 0, 0), at(2026, 3, 31, 23, 50))
    rows = cron_rows(store)
    assert made == len(rows) == 5
    assert [row.occurred_at for row in rows] == [
        at(2026, 3, 27, 9, 0),
        at(2026, 3, 28, 9, 0),
        at(2026, 3, 29, 8, 0),
        at(2026, 3, 30, 8, 0),
        at(2026, 3, 31, 8, 0),
    ]
    first, summer = rows[0], rows[2]
    assert first.event_id == "schedule:cron:daily-digest:2026-03-27T09:00:00+00:00"
    assert (first.source, first.subject, first.actor) == ("schedule", "rule:daily-digest", None)
    assert first.payload == {
        "rule": "daily-digest",
        "slot": "2026-03-27T09:00:00+00:00",
        "facts": {"slot": "2026-03-27T09:00:00+00:00"},
    }
    assert summer.payload["slot"] == "2026-03-29T09:00:00+01:00"
    assert summer.event_id == "schedule:cron:daily-digest:2026-03-29T08:00:00+00:00"
    assert cursors(store) == {"daily-digest": ("0 9 * * *", at(2026, 3, 31, 8, 0))}


def test_a_daily_slot_follows_the_clock_change_back_in_october(store: Store) -> None:
    # Summer time ends on 25 October 2026: 09:00 in London is 09:00 UTC again.
    run_clock(store, settings(), at(2026, 10, 23, 0, 0), at(2026, 10, 27, 23, 50))
    assert [row.occurred_at for row in cron_rows(store)] == [
        at(2026, 10, 23, 8, 0),
        at(2026, 10, 24, 8, 0),
        at(2026, 10, 25, 9, 0),
        at(2026, 10, 26, 9, 0),
        at(2026, 10, 27, 9, 0),
    ]
    assert [row.payload["slot"] for row in cron_rows(store)][1:3] == [
        "2026-10-24T09:00:00+01:00",
        "2026-10-25T09:00:00+00:00",
    ]


def test_slots_missed_while_down_fire_once(store: Store) -> None:
    config = settings("UTC")
    assert due(store, config, at(2026, 5, 4, 7, 0), DAILY) == 0  # first seen: the cursor
    # Down from Monday morning to Thursday noon: four slots missed, the latest fires.
    assert due(store, config, at(2026, 5, 7, 12, 0), DAILY) == 1
    assert due(store, config, at(2026, 5, 7, 12, 10), DAILY) == 0
    [row] = cron_rows(store)
    assert row.occurred_at == at(2026, 5, 7, 9, 0)
    assert due(store, config, at(2026, 5, 8, 9, 0), DAILY) == 1  # on the minute
    assert [r.occurred_at for r in cron_rows(store)][-1] == at(2026, 5, 8, 9, 0)


def test_a_new_rule_fires_nothing_at_first(store: Store) -> None:
    config = settings("UTC")
    assert due(store, config, at(2026, 5, 4, 9, 0), DAILY) == 0  # exactly on a slot
    assert cursors(store) == {"daily-digest": ("0 9 * * *", at(2026, 5, 4, 9, 0))}
    assert due(store, config, at(2026, 5, 4, 23, 0), DAILY) == 0
    # A second rule joins later: its own cursor starts then.
    weekly = ("weekly-review", "30 8 * * MON")
    assert due(store, config, at(2026, 5, 5, 9, 0), DAILY, weekly) == 1  # the daily only
    assert due(store, config, at(2026, 5, 11, 9, 0), DAILY, weekly) == 2
    assert {row.payload["rule"] for row in cron_rows(store)} == {"daily-digest", "weekly-review"}


def test_a_changed_cron_restarts_its_cursor(store: Store) -> None:
    config = settings("UTC")
    due(store, config, at(2026, 5, 4, 7, 0), DAILY)
    assert due(store, config, at(2026, 5, 4, 9, 30), DAILY) == 1
    later = ("daily-digest", "0 10 * * *")
    # Changed at 09:30: nothing, not even the old 09:00 slot or a slot before the change.
    assert due(store, config, at(2026, 5, 5, 9, 30), later) == 0
    assert cursors(store) == {"daily-digest": ("0 10 * * *", at(2026, 5, 5, 9, 30))}
    assert due(store, config, at(2026, 5, 5, 10, 0), later) == 1
    assert [row.occurred_at for row in cron_rows(store)] == [
        at(2026, 5, 4, 9, 0),
        at(2026, 5, 5, 10, 0),
    ]


def test_two_workers_on_the_same_slot_make_one_inbox_row(store: Store) -> None:
    config = settings("UTC")
    due(store, config, at(2026, 5, 4, 7, 0), DAILY)
    assert due(store, config, at(2026, 5, 4, 9, 1), DAILY) == 1
    # A second worker that read the cursor before the first one moved it.
    with store.session() as session:
        session.execute(update(ScheduleCursor).values(last_slot=at(2026, 5, 4, 7, 0)))
    assert due(store, config, at(2026, 5, 4, 9, 2), DAILY) == 0
    assert len(cron_rows(store)) == 1
    assert cursors(store)["daily-digest"][1] == at(2026, 5, 4, 9, 0)


def dry(store: Store, now: datetime, *schedules: tuple[str, str]) -> list[Any]:
    with store.session() as session:
        return due_events(
            session,
            settings(),
            now=now,
            schedules=schedules,
            unanswered_hours=[],
            stale=[],
            dry_run=True,
        )


def test_a_dry_run_matches_the_exact_minute_and_leaves_cursors_alone(store: Store) -> None:
    # 09:00 in London on 7 December is 09:00 UTC; the same moment given in another zone.
    [event] = dry(store, datetime.fromisoformat("2026-12-07T10:00:40+01:00"), DAILY)
    assert event.event_id == "schedule:cron:daily-digest:2026-12-07T09:00:00+00:00"
    assert event.payload["slot"] == "2026-12-07T09:00:00+00:00"
    assert dry(store, at(2026, 12, 7, 9, 1), DAILY) == []
    assert dry(store, at(2026, 12, 7, 8, 59), DAILY) == []
    assert cursors(store) == {}
    # With a cursor already past the slot, a dry run still says what the slot would do.
    due(store, settings(), at(2026, 12, 7, 7, 0), DAILY)
    due(store, settings(), at(2026, 12, 7, 9, 30), DAILY)
    before = cursors(store)
    assert len(dry(store, at(2026, 12, 7, 9, 0), DAILY)) == 1
    assert cursors(store) == before
    [summer] = dry(store, at(2026, 7, 1, 8, 0), DAILY)
    assert summer.payload["slot"] == "2026-07-01T09:00:00+01:00"


def test_an_expression_that_is_no_cron_is_skipped_and_the_others_run(store: Store) -> None:
    config = settings("UTC")
    broken = ("broken", "0 25 * * *")
    due(store, config, at(2026, 5, 4, 7, 0), broken, DAILY)
    assert due(store, config, at(2026, 5, 4, 9, 0), broken, DAILY) == 1
    assert set(cursors(store)) == {"daily-digest"}


def test_the_latest_slot_is_read_in_the_zone() -> None:
    london = ZoneInfo("Europe/London")
    assert latest_slot("0 9 * * *", at(2026, 3, 29, 7, 59), london) == at(2026, 3, 28, 9, 0)
    assert latest_slot("0 9 * * *", at(2026, 3, 29, 8, 0), london) == at(2026, 3, 29, 8, 0)
    assert latest_slot("0 9 * * MON", at(2026, 3, 29, 8, 0), london) == at(2026, 3, 23, 9, 0)


RULES = """\
rules:
  - name: morning-digest
    trigger:
      schedule: {cron: "0 9 * * *"}
    actions:
      - webhook: {type: automation.digest, data: {slot: "{{slot}}"}}
"""


def beat_constellation(store: Store) -> int:
    """An active weekly constellation whose third beat starts 19 January 2026."""
    with store.session() as session:
        session.add(
            PageTopicLink(
                wiki_page_id=4711,
                wiki_title="Tide Gauges Network",
                external_id="wiki-4711",
                forum_category_id=4712,
                charter_status="active",
                charter={"status": "active", "started": "2026-01-05", "beat": "weekly"},
            )
        )
    return 4711


def test_the_active_rules_choose_what_is_scanned(store: Store, tmp_path: Path) -> None:
    page_id = beat_constellation(store)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    config = settings()
    config["automations"]["rules_file"] = str(rules)
    assert record_due_for_rules(store, config, now=at(2026, 1, 18, 12, 0)) == 0
    # The built-in beat reminders are on: the beat and the morning's slot.
    assert record_due_for_rules(store, config, now=at(2026, 1, 19, 9, 0)) == 2
    with store.session() as session:
        kinds = dict(session.execute(select(InboxEvent.event_id, InboxEvent.kind)).all())
    assert kinds == {
        f"schedule:beat:{page_id}:2026-01-19": BEAT_STARTED,
        "schedule:cron:morning-digest:2026-01-19T09:00:00+00:00": CRON,
    }
    # Without a beat rule no beat is looked for.
    config["automations"]["builtins"] = []
    with store.session() as session:
        rule_set = active_rules(config)
        found = due_for_rules(session, config, rule_set, now=at(2026, 1, 19, 9, 0), dry_run=True)
        assert [event.kind for event in found] == [CRON]


def test_a_beat_already_in_the_inbox_is_not_worked_out_again(store: Store) -> None:
    page_id = beat_constellation(store)
    config = settings()

    def beats(now: datetime, *, dry_run: bool = False) -> list[str]:
        with store.session() as session:
            found = due_events(
                session,
                config,
                now=now,
                schedules=[],
                unanswered_hours=[],
                stale=[],
                dry_run=dry_run,
            )
        return [event.event_id for event in found]

    start = at(2026, 1, 19, 0, 0)
    assert due(store, config, start + timedelta(hours=1)) == 1
    assert beats(start + timedelta(hours=2)) == []
    assert beats(start + timedelta(hours=2), dry_run=True) == [
        f"schedule:beat:{page_id}:2026-01-19"
    ]
