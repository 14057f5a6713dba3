"""Snapshots on a real store (SQLite and PostgreSQL): the scheduled run computes as of the
moment it runs, a run for an older moment never replaces newer figures, and the update
after one new post agrees with a full recompute for every figure (a monthly pulse reaching
back before the widest window included)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from community.handling import HandlerContext
from community.health.compute import recompute_all, update_scope
from community.health.first_posts import refresh_first_posts
from community.health.handlers import recompute_on_schedule, schedule_event
from community.health.models import HealthSnapshot
from core import clock
from core.config import DEFAULTS, Settings
from core.store import Store
from tests.dashboards.overview_support import add_constellation, add_people, post

TOP = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # the start of an hour's slot
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
CATEGORY = 77
SCOPE = f"category:{CATEGORY}"


def settings() -> Settings:
    return copy.deepcopy(DEFAULTS)


def snapshot(store: Store, scope: str, days: int = 7) -> HealthSnapshot:
    with store.session() as session:
        row = session.scalars(
            select(HealthSnapshot).where(
                HealthSnapshot.scope == scope, HealthSnapshot.window_days == days
            )
        ).one()
        session.expunge(row)
        return row


def test_the_scheduled_run_computes_as_of_the_moment_it_runs(store: Store) -> None:
    with store.session() as session:
        post(session, 1, 1, 1, "alice", TOP - DAY, category_id=CATEGORY)
        post(session, 2, 1, 2, "bob", TOP + 10 * MINUTE, category_id=CATEGORY)  # in the hour
    ran = TOP + 25 * MINUTE
    event = schedule_event(ran, 60)
    assert event.occurred_at == TOP  # the slot's start names the event, nothing more
    with clock.using(lambda: ran), store.session() as session:
        recompute_on_schedule(event, HandlerContext(session, settings()))
    kept = snapshot(store, SCOPE)
    assert kept.computed_at == ran
    # bob's reply, written after the top of the hour, is in the windows ending at ``ran``.
    assert kept.values["participation"]["posts"] == 2
    assert kept.values["first_response"]["median_hours"] == pytest.approx(24 + 10 / 60)


def test_a_run_for_an_older_moment_never_replaces_newer_figures(store: Store) -> None:
    with store.session() as session:
        post(session, 1, 1, 1, "alice", TOP - DAY, category_id=CATEGORY)
        post(session, 2, 1, 2, "bob", TOP + 20 * MINUTE, category_id=CATEGORY)
    newer = TOP + 30 * MINUTE
    with store.session() as session:
        update_scope(session, settings(), SCOPE, now=newer)  # the update after bob's post
    with store.session() as session:
        recompute_all(session, settings(), now=TOP + 10 * MINUTE)  # started earlier
    kept = snapshot(store, SCOPE)
    assert kept.computed_at == newer and kept.values["participation"]["posts"] == 2
    later = TOP + 40 * MINUTE
    with store.session() as session:
        recompute_all(session, settings(), now=later)
    assert snapshot(store, SCOPE).computed_at == later
    with store.session() as session:
        recompute_all(session, settings(), now=later)  # the same moment again: replaced
    assert snapshot(store, SCOPE).computed_at == later


def test_the_update_after_one_post_agrees_with_the_full_recompute(store: Store) -> None:
    """A monthly constellation led by Riverlands (alice's organisation; alice is also its
    steward): alice announces, others answer, over 170 days; then one new reply."""
    config = settings()
    with store.session() as session:
        add_people(session)
        add_constellation(
            session,
            301,
            CATEGORY,
            "Tidal Watch",
            lead="Riverlands Water Trust",
            partners=("Riverlands Water Trust", "City Lab"),
            beat="monthly",
        )
        post_id = 0
        for topic, days_ago in enumerate(range(170, 0, -12), start=1):
            started = TOP - days_ago * DAY
            post_id += 1
            author = "alice" if topic % 2 else "carol"
            post(session, post_id, topic, 1, author, started, category_id=CATEGORY)
            if topic % 3:
                post_id += 1
                answered = started + topic * timedelta(hours=7)
                post(session, post_id, topic, 2, "bob", answered, category_id=CATEGORY)
    scope = "constellation:301"
    with store.session() as session:
        recompute_all(session, config, now=TOP)
    now = TOP + 5 * MINUTE
    with store.session() as session:
        # As the handler does: the new post is stored, its author's first posts refreshed.
        post(session, post_id + 1, topic, 2, "erin", now - MINUTE, category_id=CATEGORY)
        refresh_first_posts(session, ["erin"])
        updated = update_scope(session, config, scope, now=now)
    with store.session() as session:
        (full,) = [h for h in recompute_all(session, config, now=now) if h.scope == scope]
    assert updated.windows == full.windows
    widest = full.windows[90]
    # Six monthly beats back from now: posts from before the 90 days are counted too.
    assert len(widest["pulse"]["beats"]) == 6 and widest["pulse"]["beats"][0] > 0
    assert widest["announcements"]["announcements"] > 0
    assert widest["first_response"]["km_median_hours"] is not None
