"""The service within Discourse's 60 admin requests a minute (issue 20): the forum sandbox
at that default, the service's budget at its default share (one half: 30 a minute), one
compressed clock for the sandbox, the app and its workers.

1. An initial full sync of N constellation pages (300): the forum requests it needs, the
   floor (those requests at the budget's rate), the time it took on the clock, the ratio.
2. A busy day replayed through the real pipeline: after the sync and a first health
   recompute with every section showing it (the running service's state), ``--events`` (3,000)
   happenings over ``--hours`` (8) in the first ``--constellations`` (30) constellations'
   categories (bench/forum_day.py), made in the sandbox and delivered as signed webhooks
   to the running service (receiver -> inbox -> worker threads -> handlers -> wiki and
   forum). It prints forum requests per forum event (the safety-net poll's apart), the
   429s received, the peak inbox backlog and the p95 lag from a post to the wiki section
   that shows it, and each goal met or MISSED.

The wiki is a real MediaWiki answering in real time: on a clock running F times faster,
each of its answers counts F times longer; the output says so. The clock starts at 01:00
UTC tomorrow, so the day never crosses midnight whenever the bench runs.

python -m bench forum_budget [--small] [--pages N] [--constellations N] [--events N]
    [--hours H] [--sync-factor F] [--factor F] [--workers N] [--strict]
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from werkzeug.serving import WSGIRequestHandler, make_server

from bench.constellation_sync import World, create_pages, world
from bench.forum_day import Day, plan
from bench.goals import Goal, percentile
from community.constellations import handlers as section_handlers
from community.constellations.models import PageTopicLink
from community.constellations.sync import sync_constellations
from community.health import handlers as health_handlers
from connectors.discourse import ForumClient
from connectors.discourse.transport import ForumSession
from core import clock as clocks
from core import event_kinds, forum_budget, inbox, logs
from core.forum_budget_ledgers import budget_for
from core.models import InboxEvent
from core.store import Store
from sandbox.clocks import ScaledClock
from sandbox.forum.state import ApiCall
from service.app import create_app
from service.worker import Worker

SECRET = "forum-budget-bench-webhook-secret"  # noqa: S105 (the sandbox's, made here)
FORUM_PER_MINUTE = 60  # Discourse's default max_admin_api_reqs_per_minute
POLL_PATH = "/posts.json"  # the safety-net poll's one endpoint
SAMPLE_SECONDS = 0.2  # real seconds between backlog samples
# Clock time the day's tail may take: past it the lag goal is missed whatever comes.
DRAIN = timedelta(hours=2)


@dataclass(frozen=True)
class Options:
    pages: int = 300
    constellations: int = 30
    events: int = 3000
    hours: float = 8.0
    # The sync is mostly forum requests waiting for the budget; its wiki writes are real
    # time, so a slower clock keeps them from counting much.
    sync_factor: float = 20.0
    # The day: 8 hours in 8 real minutes. Faster, the service's own real time (one
    # process: the sandbox, the receiver and the workers share one interpreter) falls
    # behind the clock on a shared machine and the figures measure the machine.
    factor: float = 60.0
    workers: int = 4  # worker threads, as `flask worker --threads 4`


SMALL = Options(pages=12, constellations=4, events=120, hours=1.0)


@dataclass
class SyncFigures:
    pages: int
    requests: int
    rate_limited: int
    per_minute: int
    minutes: float

    @property
    def floor(self) -> float:
        return self.requests / self.per_minute

    @property
    def ratio(self) -> float:
        return self.minutes / self.floor if self.floor else 0.0


@dataclass
class DayFigures:
    events: int
    done: Counter[str]
    webhooks: int
    minutes: float
    # The poll's goal holds while webhooks arrive: its requests in the minutes until the
    # last forum event; after it the poll rightly returns to every forum_poll_seconds.
    poll: int
    arriving_minutes: float
    work: Counter[str]
    rate_limited: int
    peak_backlog: int
    lags: list[float]  # minutes from each post to the section showing it
    unshown: int  # posts no section refresh showed by the end
    states: dict[str, int] = field(default_factory=dict)
    spenders: Counter[tuple[str, str]] = field(default_factory=Counter)
    poll_after: int = 0  # polls after the last forum event

    @property
    def poll_rate(self) -> float:
        """Poll requests per five-minute period (begun) while webhooks arrive."""
        return self.poll / max(1, math.ceil(self.arriving_minutes / 5))

    @property
    def work_total(self) -> int:
        return sum(self.work.values())

    @property
    def p95(self) -> float:
        """A post never shown counts as an endless lag."""
        return percentile(self.lags + [math.inf] * self.unshown, 0.95)


@dataclass
class Report:
    options: Options
    sync: SyncFigures
    day: DayFigures

    def goals(self) -> list[Goal]:
        return [
            Goal("work <= 0.05 forum requests per forum event", self._per_event(), 0.05),
            Goal("poll <= 1 request per 5 minutes", self.day.poll_rate, 1.0),
            Goal("429s received = 0", self.sync.rate_limited + self.day.rate_limited, 0),
            Goal("p95 post -> wiki section <= 10 minutes", self.day.p95, 10.0),
            Goal("initial sync <= 1.1 x floor", self.sync.ratio, 1.1),
        ]

    def _per_event(self) -> float:
        return self.day.work_total / self.day.events

    @property
    def met(self) -> bool:
        return all(goal.met for goal in self.goals())


def run(options: Options = Options(), *, echo: Callable[[str], None] = print) -> Report:
    clock = ScaledClock(_early_tomorrow(), options.sync_factor)
    overrides: dict[str, dict[str, Any]] = {
        "service": {"log_level": "WARNING"},  # a line per event would drown the figures
        "forum": {"webhook_secret": SECRET},
        # Idle workers look again after this many real seconds (a webhook wakes them at
        # once; a section refresh falls due without one).
        "worker": {"embedded": False, "poll_seconds": 0.05},
    }
    with (
        tempfile.TemporaryDirectory(prefix="constellate-bench-") as folder,
        world(Path(folder), forum_rate_limit=FORUM_PER_MINUTE, overrides=overrides) as there,
        clocks.using(clock),
    ):
        assert there.forum.forum is not None
        there.forum.forum.clock = clock
        echo(
            f"forum_budget: forum sandbox at {FORUM_PER_MINUTE} admin requests a minute, the "
            f"service's budget {budget_for(there.settings, there.store).limits.allowed} a minute"
        )
        titles = create_pages(there.settings, options.pages)
        sync = _initial_sync(there, clock, options)
        _describe_sync(sync, options, echo)
        day = _day(there, clock, titles[: options.constellations], options, echo)
        report = Report(options, sync, day)
        _describe_day(report, echo)
        return report


def _forum_calls(there: World, since: datetime) -> list[ApiCall]:
    assert there.forum.forum is not None
    return [call for call in list(there.forum.forum.api_log) if call.at >= since]


def _initial_sync(there: World, clock: ScaledClock, options: Options) -> SyncFigures:
    clock.set_factor(options.sync_factor)
    budget = budget_for(there.settings, there.store)
    started = clock()
    with forum_budget.using(budget):
        sync_constellations(there.store, there.settings, full=True)
    minutes = (clock() - started).total_seconds() / 60
    calls = _forum_calls(there, started)
    return SyncFigures(
        options.pages,
        len(calls),
        sum(1 for call in calls if call.status == 429),
        budget.limits.allowed,
        minutes,
    )


def _describe_sync(sync: SyncFigures, options: Options, echo: Callable[[str], None]) -> None:
    echo(
        f"  initial full sync of {sync.pages} constellations: {sync.requests} forum requests "
        f"({sync.requests / sync.pages:.2f}/page, {sync.rate_limited} answered 429); floor "
        f"{sync.requests} / {sync.per_minute} a minute = {sync.floor:.1f} min; took "
        f"{sync.minutes:.1f} min on the clock (x{options.sync_factor:g}); ratio "
        f"{sync.ratio:.3f}"
    )


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def _service(there: World, clock: ScaledClock, workers: int) -> Iterator[str]:
    """The app serving its webhook receiver and ``workers`` worker threads (the first
    also polls the platforms), all on ``clock``; yields the receiver's URL."""
    app = create_app(there.settings, clock=clock)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    stop = threading.Event()
    threads = [threading.Thread(target=server.serve_forever, daemon=True)]
    for number in range(workers):
        worker = Worker(there.store, there.settings, clock=clock, poll_platforms=number == 0)
        threads.append(threading.Thread(target=worker.run, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/webhooks/discourse"
    finally:
        stop.set()
        server.shutdown()
        for thread in threads:
            thread.join(timeout=30)


def _hook(there: World, url: str) -> None:
    """Discourse's webhook for every event, signed; made through the admin API before the
    day starts (its request is not the service's)."""
    ForumClient(there.settings["forum"]).create_web_hook(url, SECRET)


def _backlog(store: Store, now: datetime) -> int:
    """Events due and not yet done (a section refresh waiting for its interval's end is
    not backlog)."""
    with store.session() as session:
        due = or_(
            InboxEvent.state == "claimed",
            (InboxEvent.state == "pending") & (InboxEvent.available_at <= now),
        )
        return int(session.scalar(select(func.count()).where(due)) or 0)


class _Sampler:
    """The peak backlog, sampled in a thread of its own."""

    def __init__(self, store: Store, clock: ScaledClock) -> None:
        self.store, self.clock = store, clock
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _backlog(self.store, self.clock()))

    def __enter__(self) -> _Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _categories(store: Store, titles: list[str]) -> dict[int, int]:
    """Forum category id -> wiki page id of the constellations ``titles``."""
    with store.session() as session:
        links = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title.in_(titles)))
        return {
            link.forum_category_id: link.wiki_page_id
            for link in links
            if link.forum_category_id is not None
        }


def _day(
    there: World,
    clock: ScaledClock,
    titles: list[str],
    options: Options,
    echo: Callable[[str], None],
) -> DayFigures:
    assert there.forum.forum is not None
    pages = _categories(there.store, titles)
    planned = plan(options.events, options.hours, len(pages))
    day = Day(there.forum.forum, sorted(pages))
    clock.set_factor(options.factor)
    refresh = float(there.settings["constellations"]["section_refresh_minutes"]) * 60
    spenders, refreshes = _Spenders(), _Refreshes(clock)
    with (
        spenders.watching(),
        refreshes.watching(),
        _service(there, clock, options.workers) as receiver,
    ):
        _hook(there, receiver)
        _warm_up(there, clock)
        started = clock()
        with _Sampler(there.store, clock) as sampler:
            for happening in planned:
                clock.sleep((started + timedelta(seconds=happening.at) - clock()).total_seconds())
                day.do(happening)
            last = clock()
            due = last + timedelta(seconds=refresh + 60)
            drained = _drain(there.store, clock, due, last + DRAIN)
        ended = clock()
    if not drained:
        echo("  the inbox was not drained in time: figures below are of what was done")
    calls = _forum_calls(there, started)
    endpoints = Counter(_endpoint(call.method, call.path) for call in calls)
    polls = endpoints.pop(f"GET {POLL_PATH}", 0) or 0
    poll = sum(
        1 for c in calls if c.at <= last and _endpoint(c.method, c.path) == f"GET {POLL_PATH}"
    )
    lags, unshown = _lags(there.store, refreshes, pages, started)
    return DayFigures(
        events=len(planned),
        done=day.done,
        webhooks=_count(there.store, InboxEvent.source == "forum", started),
        minutes=(ended - started).total_seconds() / 60,
        poll=poll,
        arriving_minutes=(last - started).total_seconds() / 60,
        poll_after=polls - poll,
        work=endpoints,
        rate_limited=sum(1 for call in calls if call.status == 429),
        peak_backlog=sampler.peak,
        lags=lags,
        unshown=unshown,
        states=_states(there.store, started),
        spenders=spenders.counts,
    )


def _early_tomorrow() -> datetime:
    """The bench's clock starts at 01:00 UTC tomorrow, whatever the time now: the replayed
    day then never crosses midnight (a new date rewrites every page's health line, a burst
    that would measure the hour the bench ran, not the service)."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 1, tzinfo=UTC)


def _warm_up(there: World, clock: ScaledClock) -> None:
    """The service as a running one is before the day: health measured and every section
    showing it. (The first recompute gives every page its first figures: hundreds of
    section refreshes at once, which belong to the installation, not to the day.)"""
    minutes = float(there.settings["health"]["recompute_minutes"])
    with there.store.session() as session:
        inbox.record(session, health_handlers.schedule_event(clock(), minutes))
    now = clock()
    _drain(there.store, clock, now, now + DRAIN)


def _drain(store: Store, clock: ScaledClock, not_before: datetime, give_up: datetime) -> bool:
    """Wait until the clock has passed ``not_before`` (the last refreshes are due) and
    nothing is left to do, or until ``give_up``."""
    while (now := clock()) < give_up:
        if now >= not_before and not _pending(store):
            return True
        time.sleep(SAMPLE_SECONDS)
    return False


def _pending(store: Store) -> int:
    with store.session() as session:
        waiting = InboxEvent.state.in_(("pending", "claimed"))
        return int(session.scalar(select(func.count()).where(waiting)) or 0)


def _count(store: Store, condition: Any, since: datetime) -> int:
    with store.session() as session:
        query = select(func.count()).where(condition, InboxEvent.received_at >= since)
        return int(session.scalar(query) or 0)


def _states(store: Store, since: datetime) -> dict[str, int]:
    with store.session() as session:
        rows = session.execute(
            select(InboxEvent.state, func.count())
            .where(InboxEvent.received_at >= since)
            .group_by(InboxEvent.state)
        )
        return {state: int(count) for state, count in rows}


_NUMBER = re.compile(r"/\d+(?=[/.]|$)")
_USER = re.compile(r"^/u/[^/]+?(?=\.json$|/|$)")


def _endpoint(method: str, path: str) -> str:
    """``GET /t/{id}.json``: the method and path with ids and usernames left out."""
    return f"{method} {_USER.sub('/u/{name}', _NUMBER.sub('/{id}', path))}"


_DOMAIN = ("community.", "webhooks.")


def _caller() -> str:
    """The domain module nearest the request on the stack (the handler's or the timer's
    own code, under the connectors): which feature spent it."""
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(_DOMAIN):
            return module
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class _Spenders:
    """Which work spent the service's forum requests: the kind of the event being handled
    (the worker binds it to its log lines), or the worker's timers. Measurement only: it
    wraps the forum session's ``request`` while the day runs."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def watching(self) -> Iterator[None]:
        original = ForumSession.request
        spenders = self

        def request(session: ForumSession, method: Any, url: Any, *args: Any, **kw: Any) -> Any:
            kind = logs.current().get("kind", "timers")
            spender = f"{kind} <- {_caller()}"
            with spenders._lock:
                spenders.counts[(spender, _endpoint(str(method), urlsplit(str(url)).path))] += 1
            return original(session, method, url, *args, **kw)

        ForumSession.request = request  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            ForumSession.request = original  # type: ignore[method-assign]


class _Refreshes:
    """When each wiki section refresh began and ended, by page (on the day's clock):
    a refresh that began after a post's event was committed read that post. Measurement
    only: it wraps the refresh handler's section writer while the day runs."""

    def __init__(self, clock: ScaledClock) -> None:
        self.clock = clock
        self.by_page: dict[int, list[tuple[datetime, datetime]]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def watching(self) -> Iterator[None]:
        original = section_handlers.update_wiki_section
        refreshes = self

        def update(*args: Any, link: Any, **kw: Any) -> str:
            began = refreshes.clock()
            outcome = original(*args, link=link, **kw)
            with refreshes._lock:
                refreshes.by_page.setdefault(link.wiki_page_id, []).append(
                    (began, refreshes.clock())
                )
            return outcome

        section_handlers.update_wiki_section = update
        try:
            yield
        finally:
            section_handlers.update_wiki_section = original


def _lags(
    store: Store, refreshes: _Refreshes, pages: dict[int, int], since: datetime
) -> tuple[list[float], int]:
    """Minutes from each new post in the day's categories to the end of the first section
    refresh of its page that began after the post's event was handled (so it read the
    post). Posts of our own account (the rules' welcomes) are echoes, ignored by design:
    not counted."""
    with store.session() as session:
        posts = session.execute(
            select(InboxEvent.occurred_at, InboxEvent.processed_at, InboxEvent.payload).where(
                InboxEvent.kind == event_kinds.FORUM_POST_CREATED,
                InboxEvent.received_at >= since,
                InboxEvent.state != "ignored",
            )
        ).all()
    lags: list[float] = []
    unshown = 0
    for occurred_at, processed_at, payload in posts:
        wiki_page = pages.get(int(payload["post"].get("category_id") or 0))
        if wiki_page is None:
            continue
        shown = [
            ended
            for began, ended in refreshes.by_page.get(wiki_page, [])
            if processed_at is not None and began >= processed_at
        ]
        if not shown:
            unshown += 1
            continue
        lags.append((min(shown) - occurred_at).total_seconds() / 60)
    return lags, unshown


def _describe_day(report: Report, echo: Callable[[str], None]) -> None:
    day, options = report.day, report.options
    kinds = ", ".join(f"{count} {kind}s" for kind, count in sorted(day.done.items()))
    echo(
        f"  busy day: {day.events} forum events over {options.hours:g} h in "
        f"{options.constellations} constellations ({kinds}); {day.webhooks} webhooks "
        f"received; {options.workers} worker threads; the clock x{options.factor:g} "
        f"({options.hours * 60 / options.factor:.1f} real minutes for the day), so each "
        f"real second the wiki takes counts {options.factor:g} s"
    )
    echo(
        f"  forum requests: work {day.work_total} ({day.work_total / day.events:.3f} per "
        f"forum event); safety-net poll ({POLL_PATH}) {day.poll} in the "
        f"{day.arriving_minutes:.0f} min webhooks arrived ({day.poll_rate:.2f} per 5 "
        f"minutes), {day.poll_after} after"
    )
    for endpoint, count in day.work.most_common(12):
        echo(f"    {count:6d}  {endpoint}")
    echo("  by the work that spent them (poll included):")
    for (kind, endpoint), count in sorted(day.spenders.items(), key=lambda item: -item[1])[:20]:
        echo(f"    {count:6d}  {endpoint:24s} {kind}")
    lag = (
        f"p50 {statistics.median(day.lags):.1f} min, p95 {day.p95:.1f} min, max "
        f"{max(day.lags):.1f} min"
        if day.lags
        else "no post was shown"
    )
    echo(
        f"  429s received: {day.rate_limited} (sync {report.sync.rate_limited}); peak inbox "
        f"backlog {day.peak_backlog} events due; post -> wiki section {lag} over "
        f"{len(day.lags)} posts ({day.unshown} never shown); inbox {_states_text(day.states)}"
    )
    for goal in report.goals():
        echo(f"  goal: {goal.name}: {goal.value:.3g}: {'met' if goal.met else 'MISSED'}")


def _states_text(states: dict[str, int]) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(states.items()))


def options_from(argv: Iterable[str]) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench forum_budget")
    parser.add_argument("--small", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--pages", type=int)
    parser.add_argument("--constellations", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--hours", type=float)
    parser.add_argument("--sync-factor", type=float)
    parser.add_argument("--factor", type=float)
    parser.add_argument("--workers", type=int)
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a goal is missed"
    )
    args = parser.parse_args(list(argv))
    base = SMALL if args.small else Options()
    given = {
        name: getattr(args, name)
        for name in Options.__dataclass_fields__
        if getattr(args, name) is not None
    }
    options = Options(**{**base.__dict__, **given})
    for name, value in options.__dict__.items():
        if value <= 0:
            parser.error(f"--{name.replace('_', '-')}: expected more than 0, got {value:g}")
    if options.constellations > options.pages:
        parser.error("--constellations: at most --pages")
    return options, args.strict


def main(argv: list[str] | None = None) -> None:
    options, strict = options_from(argv or [])
    report = run(options)
    if strict and not report.met:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
