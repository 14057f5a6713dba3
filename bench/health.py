"""Conversation health over a generated forum stored in SQLite: a full recompute of every
metric, incremental updates of one scope after one new post, and as the reference measured
in the same run, plain SQL computing time to first response and unanswered topics over the
same rows. Both must agree in value, or the run fails.

Goals (issue 24), printed with their ratios: the incremental update's median at most 3x
the median time to store the post, and the full recompute at most 8x the SQL reference.
``--strict`` exits 1 when one is missed; a disagreement always exits 1.

python -m bench.health [--posts N | --small] [--updates N] [--strict]   (default 1,000,000 posts)
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.orm import Session

from bench.goals import Goal
from bench.health_data import Constellation, Forum, Shape, generate, sqlite_time
from community.activity import ForumPostActivity
from community.health.compute import compute, recompute_all, update_scope
from community.health.first_posts import refresh_first_posts
from community.health.inputs import load_inputs, spec_for
from community.health.scope import CONSTELLATION, ScopeHealth
from core.config import DEFAULTS, Settings
from core.migrate import upgrade
from core.store import Store

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # the end of every window; data ends here
SMALL_POSTS = 20_000
UPDATES = 200
TOLERANCE = 1e-6  # hours
API_USERNAME = "system"
WIKI_USERNAME = "ConstellateBot"
SHOWN_MISMATCHES = 10
UPDATE_LIMIT = 3.0  # x the time to store the post
FULL_LIMIT = 8.0  # x the SQL reference


@dataclass(frozen=True)
class Options:
    posts: int = Shape().posts
    updates: int = UPDATES


SMALL = Options(posts=SMALL_POSTS)

# Per category and window: topics started in the window, answered, TTFR median and p90
# (nearest rank, 1-based: ceil(n/2) = (n + 1) / 2 and ceil(9n/10) = (9n + 9) / 10 in
# integers), and the topics at least :limit seconds old not answered within :limit.
# Usernames are compared lower-cased: the generated names are ASCII without "_", so this
# is the compute's casefold, and each person has one account, so a username is a person.
REFERENCE_SQL = """
WITH windows(days, start) AS (VALUES {windows}),
excluded(name) AS (
    SELECT lower(username) FROM accounts WHERE is_bot = 1
    UNION SELECT lower(:own_forum) UNION SELECT lower(:own_wiki) UNION SELECT 'system'
),
topics AS (
    SELECT t.category_id, t.created_at,
        (SELECT MIN(r.created_at) FROM forum_post_activity r
         WHERE r.topic_id = t.topic_id AND r.post_number > 1 AND r.created_at < :now
           AND r.deleted = 0 AND r.hidden = 0 AND r.private = 0 AND r.post_type = 1
           AND lower(r.username) <> lower(t.username)
           AND lower(r.username) NOT IN (SELECT name FROM excluded)) AS answered_at
    FROM forum_post_activity t
    WHERE t.post_number = 1 AND t.created_at >= :widest AND t.created_at < :now
      AND t.deleted = 0 AND t.hidden = 0 AND t.private = 0 AND t.post_type = 1
      AND t.category_id IS NOT NULL
      AND lower(t.username) NOT IN (SELECT name FROM excluded)
),
waits AS (
    SELECT category_id, created_at, answered_at,
        strftime('%s', answered_at) - strftime('%s', created_at) AS seconds
    FROM topics
),
counts AS (
    SELECT w.days, t.category_id, COUNT(*) AS topics, COUNT(t.answered_at) AS answered,
        SUM(t.created_at <= :cutoff) AS eligible,
        SUM(t.created_at <= :cutoff AND (t.answered_at IS NULL OR t.seconds > :limit)) AS late
    FROM waits t JOIN windows w ON t.created_at >= w.start
    GROUP BY w.days, t.category_id
),
ranked AS (
    SELECT w.days, t.category_id, t.seconds / 3600.0 AS hours,
        ROW_NUMBER() OVER (PARTITION BY w.days, t.category_id ORDER BY t.seconds) AS position,
        COUNT(*) OVER (PARTITION BY w.days, t.category_id) AS n
    FROM waits t JOIN windows w ON t.created_at >= w.start
    WHERE t.answered_at IS NOT NULL
),
percentiles AS (
    SELECT days, category_id,
        MAX(CASE WHEN position = (n + 1) / 2 THEN hours END) AS median_hours,
        MAX(CASE WHEN position = (9 * n + 9) / 10 THEN hours END) AS p90_hours
    FROM ranked GROUP BY days, category_id
)
SELECT c.days, c.category_id, c.topics, c.answered, c.eligible, c.late,
    p.median_hours, p.p90_hours
FROM counts c LEFT JOIN percentiles p ON p.days = c.days AND p.category_id = c.category_id
"""

# The figures compared, as ScopeHealth paths; the reference fills the same keys.
COMPARED = (
    "first_response.topics",
    "first_response.answered",
    "first_response.unanswered",
    "first_response.median_hours",
    "first_response.p90_hours",
    "unanswered.eligible",
    "unanswered.unanswered",
)


def bench_settings() -> Settings:
    """The defaults, with our own accounts named (their posts are never counted)."""
    settings = copy.deepcopy(DEFAULTS)
    settings["forum"]["api_username"] = API_USERNAME
    settings["wiki"]["username"] = WIKI_USERNAME
    return settings


# -- the reference ---------------------------------------------------------------------------


def reference(
    connection: Connection, settings: Settings, now: datetime
) -> dict[tuple[int, int], dict[str, Any]]:
    """(category id, window days) -> the COMPARED figures, from plain SQL.

    A (category, window) without topics is absent; ``expected`` fills it with zeros."""
    health = settings["health"]
    days = sorted(int(d) for d in health["windows"])
    limit = int(health["unanswered_hours"]) * 3600
    now_ts = int(now.timestamp())
    windows = ", ".join(f"({d}, :start{d})" for d in days)
    params: dict[str, Any] = {f"start{d}": sqlite_time(now_ts - d * 86_400) for d in days}
    params |= {
        "now": sqlite_time(now_ts),
        "widest": sqlite_time(now_ts - days[-1] * 86_400),
        "cutoff": sqlite_time(now_ts - limit),
        "limit": limit,
        "own_forum": settings["forum"]["api_username"],
        "own_wiki": settings["wiki"]["username"],
    }
    found = {}
    for row in connection.execute(text(REFERENCE_SQL.format(windows=windows)), params):
        window, category, topics, answered, eligible, late, median, p90 = row
        found[(category, window)] = {
            "first_response.topics": topics,
            "first_response.answered": answered,
            "first_response.unanswered": topics - answered,
            "first_response.median_hours": median,
            "first_response.p90_hours": p90,
            "unanswered.eligible": eligible,
            "unanswered.unanswered": late,
        }
    return found


def expected(
    figures: Mapping[tuple[int, int], Mapping[str, Any]], category: int, days: int
) -> Mapping[str, Any]:
    empty = {path: (None if path.endswith("_hours") else 0) for path in COMPARED}
    return figures.get((category, days), empty)


def mismatches(
    healths: Sequence[ScopeHealth],
    figures: Mapping[tuple[int, int], Mapping[str, Any]],
    category_of: Mapping[str, int],
    windows: Sequence[int],
) -> tuple[int, list[str]]:
    """How many constellation scopes were compared, and every figure that differs."""
    found: list[str] = []
    compared = 0
    for health in healths:
        if health.kind != CONSTELLATION:
            continue
        compared += 1
        category = category_of[health.scope]
        for days in windows:
            want = expected(figures, category, days)
            for path in COMPARED:
                ours = health.figure(days, path)
                if not _same(ours, want[path]):
                    found.append(
                        f"{health.scope} (category {category}) {days} d {path}: "
                        f"recompute {ours!r}, SQL {want[path]!r}"
                    )
    return compared, found


def _same(ours: Any, theirs: Any) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return math.isclose(float(ours), float(theirs), rel_tol=0, abs_tol=TOLERANCE)


# -- incremental updates ---------------------------------------------------------------------


@dataclass
class RecentTopics:
    """Topics started in the last week, per category, and where each new post goes."""

    by_category: dict[int, list[int]]
    last_number: dict[int, int]
    next_post_id: int


def recent_topics(connection: Connection, now: datetime) -> RecentTopics:
    since = sqlite_time(int((now - timedelta(days=7)).timestamp()))
    by_category: dict[int, list[int]] = {}
    last_number: dict[int, int] = {}
    rows = connection.execute(
        text(
            "SELECT f.category_id, f.topic_id, MAX(p.post_number) FROM forum_post_activity f"
            " JOIN forum_post_activity p ON p.topic_id = f.topic_id"
            " WHERE f.post_number = 1 AND f.category_id IS NOT NULL AND f.created_at >= :since"
            " GROUP BY f.category_id, f.topic_id ORDER BY f.topic_id"
        ),
        {"since": since},
    )
    for category, topic, number in rows:
        by_category.setdefault(category, []).append(topic)
        last_number[topic] = number
    top = connection.execute(text("SELECT MAX(post_id) FROM forum_post_activity")).scalar()
    return RecentTopics(by_category, last_number, int(top or 0) + 1)


@dataclass
class Updates:
    record_ms: list[float]  # storing the post as the event handler does
    update_ms: list[float]  # update_scope and its commit
    last: ScopeHealth | None
    last_now: datetime
    latest: dict[str, ScopeHealth]  # each updated scope's last figures


def incremental(
    session: Session,
    settings: Settings,
    forum: Forum,
    recent: RecentTopics,
    count: int,
) -> Updates:
    """``count`` times: one new reply in a random constellation's recent topic, stored,
    then its scope updated. The clock moves a minute each time."""
    rng = random.Random(7)  # noqa: S311 (reproducible choices, not secrets)
    active = [c for c in forum.constellations if recent.by_category.get(c.category_id)]
    if not active:
        raise RuntimeError("no constellation has a topic from the last week to reply to")
    done = Updates([], [], None, forum.now, {})
    for step in range(1, count + 1):
        now = forum.now + timedelta(minutes=step)
        chosen: Constellation = rng.choice(active)
        topic = rng.choice(recent.by_category[chosen.category_id])
        recent.last_number[topic] += 1
        author = rng.choice(chosen.members)
        started = time.perf_counter()
        session.execute(
            insert(ForumPostActivity),
            {
                "post_id": recent.next_post_id,
                "topic_id": topic,
                "category_id": chosen.category_id,
                "username": author,
                "post_number": recent.last_number[topic],
                "reply_to_post_number": rng.choice((None, 1)),
                "created_at": now - timedelta(seconds=30),
                "updated_at": now - timedelta(seconds=30),
                "deleted": False,
            },
        )
        refresh_first_posts(session, [author])
        session.commit()
        recorded = time.perf_counter()
        done.last = update_scope(
            session, settings, f"{CONSTELLATION}:{chosen.wiki_page_id}", now=now
        )
        session.commit()
        finished = time.perf_counter()
        recent.next_post_id += 1
        done.latest[done.last.scope] = done.last
        done.record_ms.append((recorded - started) * 1000)
        done.update_ms.append((finished - recorded) * 1000)
        done.last_now = now
    return done


def unlike_full_recompute(
    session: Session, settings: Settings, healths: Mapping[str, ScopeHealth]
) -> list[str]:
    """Every figure group in which a scope's incremental figures differ from a full
    recompute of that scope as of the same moment (not timed)."""
    found = []
    for scope, health in sorted(healths.items()):
        spec = spec_for(session, scope)
        assert spec is not None
        moment = health.computed_at
        full = compute(spec, load_inputs(session, settings, spec, now=moment), settings, now=moment)
        for days, values in full.windows.items():
            for group, figures in values.items():
                if health.windows[days][group] != figures:
                    found.append(
                        f"{scope} {days} d {group}: incremental {health.windows[days][group]!r},"
                        f" full recompute {figures!r}"
                    )
    return found


def _p95(values: Sequence[float]) -> float:
    """Nearest rank, as the metrics' percentiles."""
    ordered = sorted(values)
    return ordered[-(-95 * len(ordered) // 100) - 1]


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Report:
    full_s: float
    sql_s: float
    update_ms: list[float]
    record_ms: list[float]
    wrong: list[str]  # every figure that disagrees

    def goals(self) -> list[Goal]:
        update = statistics.median(self.update_ms) / statistics.median(self.record_ms)
        return [
            Goal(
                f"incremental median <= {UPDATE_LIMIT:g} x storing the post", update, UPDATE_LIMIT
            ),
            Goal(
                f"full recompute <= {FULL_LIMIT:g} x SQL reference",
                self.full_s / self.sql_s,
                FULL_LIMIT,
            ),
        ]

    @property
    def met(self) -> bool:
        return all(goal.met for goal in self.goals())


def run(options: Options = Options(), *, echo: Callable[[str], None] = print) -> Report:
    """Generate, measure, compare; the report says whether every figure agreed."""
    shape = Shape.for_posts(options.posts)
    settings = bench_settings()
    windows = sorted(int(d) for d in settings["health"]["windows"])
    own = (API_USERNAME, WIKI_USERNAME)
    with tempfile.TemporaryDirectory(prefix="constellate-health-") as folder:
        database = Path(folder) / "health.db"
        url = f"sqlite:///{database}"
        upgrade(url)
        forum = generate(str(database), NOW, own, shape)
        echo(
            f"health: {forum.posts:,} posts in {forum.topics:,} topics "
            f"({forum.private_topics:,} private messages, {forum.posts_after_now:,} posts "
            f"after the end) by {shape.people:,} people + {shape.bots} bots in "
            f"{shape.organisations} organisations and {shape.constellations} constellations; "
            f"generated in {forum.seconds:.1f} s (not timed below)"
        )
        echo("  one forum account per person: a username is a person in the SQL reference")
        category_of = {
            f"{CONSTELLATION}:{c.wiki_page_id}": c.category_id for c in forum.constellations
        }
        store = Store(url)
        try:
            with store.session() as session:
                started = time.perf_counter()
                healths = recompute_all(session, settings, now=NOW)
                session.commit()
                full = time.perf_counter() - started
            with store.engine.connect() as connection:
                started = time.perf_counter()
                figures = reference(connection, settings, NOW)
                sql = time.perf_counter() - started
                recent = recent_topics(connection, NOW)
            compared, wrong = mismatches(healths, figures, category_of, windows)
            with store.session() as session:
                done = incremental(session, settings, forum, recent, options.updates)
                unlike = unlike_full_recompute(session, settings, done.latest)
            with store.engine.connect() as connection:
                final = reference(connection, settings, done.last_now)
        finally:
            store.dispose()
    if done.last is not None:
        _, late_wrong = mismatches([done.last], final, category_of, windows)
        wrong += [f"after the updates: {line}" for line in late_wrong]
    wrong += [f"incremental: {line}" for line in unlike]
    report = Report(full, sql, done.update_ms, done.record_ms, wrong)
    echo(f"  full recompute: {full:.2f} s for {len(healths)} scopes x {len(windows)} windows")
    echo(
        f"  incremental ({options.updates} new posts, one scope each): update_scope median "
        f"{statistics.median(done.update_ms):.1f} ms, p95 {_p95(done.update_ms):.1f} ms; "
        f"storing the post median {statistics.median(done.record_ms):.1f} ms"
    )
    echo(
        f"  SQL reference (time to first response + unanswered only): {sql:.3f} s; "
        f"ratio full recompute / SQL reference = {full / sql:.1f}"
    )
    if wrong:
        echo(f"  agreement: FAILED, {len(wrong)} figure(s) differ; the first:")
        for line in wrong[:SHOWN_MISMATCHES]:
            echo(f"    {line}")
    else:
        echo(
            f"  agreement: OK ({compared} scopes x {len(windows)} windows, and the last "
            f"updated scope after the updates); every figure of the {len(done.latest)} "
            "updated scopes as a full recompute has them"
        )
    for goal in report.goals():
        verdict = "met" if goal.met else "MISSED"
        echo(f"  goal: {goal.name}: {goal.value:.2f} <= {goal.limit:g}: {verdict}")
    return report


def options_from(argv: list[str]) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench health")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--posts", type=int, help=f"posts to generate ({Options().posts:,})")
    size.add_argument(
        "--small", action="store_true", help=f"{SMALL_POSTS:,} posts: a smoke run in seconds"
    )
    parser.add_argument("--updates", type=int, help=f"incremental updates ({UPDATES})")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a goal is missed"
    )
    args = parser.parse_args(argv)
    base = SMALL if args.small else Options()
    options = Options(
        posts=base.posts if args.posts is None else args.posts,
        updates=base.updates if args.updates is None else args.updates,
    )
    if options.updates < 1:
        parser.error(f"--updates: at least 1, got {options.updates}")
    try:
        Shape.for_posts(options.posts)
    except ValueError as exc:
        parser.error(str(exc))
    return options, args.strict


def main(argv: list[str] | None = None) -> None:
    """Exits 1 when a figure disagrees, and with ``--strict`` when a goal is missed."""
    options, strict = options_from(argv or [])
    report = run(options)
    if report.wrong or (strict and not report.met):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
