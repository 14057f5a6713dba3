"""The moderator dashboard over a store with 1,000,000 forum posts: every page and the
main API routes rendered through the Flask test client, logged in as a moderator, with
the login page (a template render with no queries) measured in the same run as the
reference. Fails (exit status 1) when a route's p95 is over the 150 ms budget or a route
does not answer 200.

python -m bench dashboard [--posts N | --small] [--runs N] [--warmup N] [--cache DIR]
                          [--rebuild] [--queries]

Rounds go over every route in turn, so the machine's noise falls on all of them alike.
``--queries`` times each SQL statement of one more request per route and prints the
slowest ones with SQLite's query plan (for a route over budget this is printed anyway).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select

from bench.dashboard_data import BuiltStore, build, default_cache, settings
from bench.health_data import Shape
from community.activity import ForumPostActivity
from community.constellations.models import PageTopicLink
from community.credits.models import Account, CreditEntry
from core.store import get_store
from dashboards.sessions import cookie_name, create_row
from service.app import create_app

BUDGET_MS = 150.0
RUNS = 40
WARMUP = 5
SMALL_POSTS = 20_000
REFERENCE = "/dashboard/login"
SLOWEST_SHOWN = 3
# An address that never answers: pages must not call the platforms while rendering.
NOWHERE = "http://127.0.0.1:9"


@dataclass
class Timing:
    path: str
    status: set[int] = field(default_factory=set)
    ms: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        """Nearest rank, as the health bench's."""
        ordered = sorted(self.ms)
        return ordered[-(-95 * len(ordered) // 100) - 1]


# -- the app and the moderator ---------------------------------------------------------------


def make_app(url: str) -> Flask:
    config = settings()
    return create_app(
        {
            "service": {"secret_key": "b" * 40, "base_url": "http://127.0.0.1:5080"},
            "store": {"url": url},
            "worker": {"embedded": False},
            "wiki": {
                "url": NOWHERE,
                "script_path": "/",
                "username": config["wiki"]["username"],
                "password": "not-a-real-password",
            },
            "forum": {
                "url": NOWHERE,
                "api_username": config["forum"]["api_username"],
                "api_key": "not-a-real-key",
                "connect_secret": "bench-connect-secret-0123456789",
            },
            "dashboard": {"secure_cookies": False},
        }
    )


def log_in(client: FlaskClient, username: str = "moderator") -> None:
    """A stored session for a moderator, as a DiscourseConnect login leaves one."""
    app = client.application
    with app.app_context():
        sid, row = create_row(app, {"user": {"username": username, "forum_user_id": 7, "name": ""}})
        with get_store().session() as db:
            db.add(row)
    client.set_cookie(cookie_name(app), sid)


# -- what is measured ------------------------------------------------------------------------


def routes(app: Flask) -> list[str]:
    """The pages and API routes, with ids picked where the store is heaviest: the
    constellation with the most posts, the person with the most ledger rows."""
    with app.app_context(), get_store().session() as session:
        category = session.execute(
            select(ForumPostActivity.category_id, func.count())
            .where(ForumPostActivity.category_id.is_not(None))
            .group_by(ForumPostActivity.category_id)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        page_id = session.scalar(
            select(PageTopicLink.wiki_page_id).where(
                PageTopicLink.forum_category_id == (category[0] if category else None)
            )
        )
        account = session.execute(
            select(CreditEntry.platform, CreditEntry.account)
            .group_by(CreditEntry.platform, CreditEntry.account)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        person = None
        if account is not None:
            person = session.scalar(
                select(Account.person_id).where(
                    Account.platform == account[0], Account.username == account[1]
                )
            )
    pages = [
        "/dashboard/",
        f"/dashboard/constellations/{page_id}",
        "/dashboard/practices",
        "/dashboard/practices?page=4",
        "/dashboard/people",
        "/dashboard/people?page=20",
        f"/dashboard/people/{person}",
        f"/dashboard/people/{person}?page=10",
        "/dashboard/automations",
        "/dashboard/automations?failed=1",
        "/dashboard/automations?rule=newcomer-welcome&page=5",
        "/dashboard/webhooks",
        "/dashboard/webhooks?show=incoming&state=dead",
        "/dashboard/webhooks?show=outgoing",
        "/dashboard/webhooks?show=outgoing&state=failed",
        "/dashboard/webhooks?show=refused",
        "/dashboard/webhooks?page=100",
        "/dashboard/sync",
    ]
    api = [
        "/api/v1/constellations",
        f"/api/v1/constellations/{page_id}",
        "/api/v1/alerts",
        "/api/v1/people",
        f"/api/v1/people/{person}/ledger",
        "/api/v1/link-suggestions",
        "/api/v1/practices",
        "/api/v1/automations/rules",
        "/api/v1/automations/runs",
        "/api/v1/sync",
        "/api/v1/webhooks/incoming",
        "/api/v1/webhooks/refused",
        "/api/v1/webhooks/outgoing",
    ]
    return pages + api


def measure(
    app: Flask, paths: Sequence[str], runs: int, warmup: int
) -> tuple[Timing, list[Timing]]:
    """``warmup`` untimed rounds, then ``runs`` timed ones over every route in turn."""
    moderator = app.test_client()
    log_in(moderator)
    visitor = app.test_client()  # the reference: the login page, not logged in
    reference = Timing(REFERENCE)
    timings = [Timing(path) for path in paths]
    for round_number in range(warmup + runs):
        for timing in [reference, *timings]:
            client = visitor if timing is reference else moderator
            started = time.perf_counter()
            response = client.get(timing.path)
            response.get_data()
            elapsed = (time.perf_counter() - started) * 1000
            timing.status.add(response.status_code)
            if round_number >= warmup:
                timing.ms.append(elapsed)
    return reference, timings


# -- which statements are slow ---------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    ms: float
    sql: str
    parameters: Any


@contextmanager
def statements_of(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement run on ``engine`` meanwhile, with its time."""
    seen: list[Statement] = []
    starts: list[float] = []

    def before(conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> None:
        starts.append(time.perf_counter())

    def after(conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append(Statement((time.perf_counter() - starts.pop()) * 1000, sql, parameters))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@dataclass(frozen=True)
class Breakdown:
    request_ms: float
    sql_ms: float
    statements: int
    slowest: list[tuple[Statement, list[str]]]  # each with its query plan


def breakdown(app: Flask, path: str) -> Breakdown:
    """One request to ``path``: its time, its SQL's, and its slowest statements."""
    client = app.test_client()
    log_in(client)
    engine = get_store(app).engine
    with statements_of(engine) as seen:
        started = time.perf_counter()
        client.get(path).get_data()
        request_ms = (time.perf_counter() - started) * 1000
    worst = sorted(seen, key=lambda s: s.ms, reverse=True)[:SLOWEST_SHOWN]
    found = []
    with engine.connect() as connection:
        for statement in worst:
            plan = connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters
            ).all()
            found.append((statement, [str(row[-1]) for row in plan]))
    return Breakdown(request_ms, sum(s.ms for s in seen), len(seen), found)


# -- the run ---------------------------------------------------------------------------------


def report(
    reference: Timing, timings: Sequence[Timing], echo: Callable[[str], None]
) -> list[Timing]:
    """Print the table; returns the routes that failed (over budget or not 200)."""
    width = max(len(t.path) for t in [reference, *timings])
    echo(f"  {'route':<{width}}  status  median ms  p95 ms  p95/budget  median/reference")
    failed = []
    for timing in [reference, *timings]:
        status = ",".join(str(s) for s in sorted(timing.status))
        bad = timing.status != {200} or timing.p95 > BUDGET_MS
        if bad and timing is not reference:
            failed.append(timing)
        echo(
            f"  {timing.path:<{width}}  {status:>6}  {timing.median:9.1f}  {timing.p95:6.1f}"
            f"  {timing.p95 / BUDGET_MS:10.2f}  {timing.median / reference.median:16.1f}"
            f"{'  OVER' if bad and timing is not reference else ''}"
        )
    return failed


@dataclass(frozen=True)
class Result:
    built: BuiltStore
    reference: Timing
    timings: list[Timing]
    failed: list[Timing]  # over budget or not answering 200


def run(
    shape: Shape,
    *,
    cache: Path,
    rebuild: bool = False,
    runs: int = RUNS,
    warmup: int = WARMUP,
    queries: bool = False,
    echo: Callable[[str], None] = print,
) -> Result:
    echo(f"dashboard: a store with {shape.posts:,} forum posts (cache {cache})")
    built: BuiltStore = build(cache, shape, rebuild=rebuild, echo=echo)
    how = "reused" if built.reused else "built"
    echo(f"  store {how} in {built.seconds:.0f} s: " + ", ".join(
        f"{key} {value:,}" for key, value in built.counts.items()
    ))  # fmt: skip
    app = make_app(built.url)
    try:
        paths = routes(app)
        echo(f"  {runs} timed rounds after {warmup} warm-up; budget {BUDGET_MS:.0f} ms (p95)")
        reference, timings = measure(app, paths, runs, warmup)
        failed = report(reference, timings, echo)
        for timing in timings if queries else failed:
            found = breakdown(app, timing.path)
            echo(
                f"  {timing.path}: one more request {found.request_ms:.1f} ms, of which SQL "
                f"{found.sql_ms:.1f} ms in {found.statements} statements; the slowest:"
            )
            for statement, plan in found.slowest:
                sql = " ".join(statement.sql.split())
                echo(f"    {statement.ms:8.1f} ms  {sql[:400]}")
                for line in plan:
                    echo(f"               plan: {line}")
    finally:
        get_store(app).dispose()
    if failed:
        echo(f"  FAILED: {len(failed)} route(s) over budget or not answering 200")
    else:
        echo(f"  OK: every route's p95 is under {BUDGET_MS:.0f} ms")
    return Result(built, reference, timings, failed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--posts", type=int, default=Shape().posts, help="forum posts in the store")
    size.add_argument("--small", action="store_true", help=f"{SMALL_POSTS:,} posts: a smoke run")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed rounds first")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where stores are kept")
    parser.add_argument("--rebuild", action="store_true", help="build the store again")
    parser.add_argument("--queries", action="store_true", help="the slowest SQL of every route")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    try:
        shape = Shape.for_posts(SMALL_POSTS if args.small else args.posts)
    except ValueError as exc:
        parser.error(str(exc))
    result = run(
        shape,
        cache=args.cache,
        rebuild=args.rebuild,
        runs=args.runs,
        warmup=args.warmup,
        queries=args.queries,
        echo=functools.partial(print, flush=True),  # progress shows while the store builds
    )
    if result.failed:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
