"""One budget of forum requests, shared by every process of the service.

Discourse lets all the admin API keys of a site make ``max_admin_api_reqs_per_minute``
(60) requests together in any 60 seconds (one limiter, ``admin_api_min``), and the site's
other integrations spend from the same window. Constellate takes a share of it (one half
by default) and every process spends from one ledger: the store's tables, or Redis when
the queue is Redis. A 429 seen by any process pauses them all until the forum's wait is
over.

Work has priorities: a moderator's action, then sync writes, then section refreshes, then
scans and backfills. A request waits while a more urgent one is waiting, so the urgent
one gets the next free place; the budget is otherwise used to the full by whatever waits.

A wait longer than the caller may spend (its ``max_wait``, or the deadline the worker sets
from its lease) raises ``BudgetExhausted``: the worker then puts the event back for later
without counting an attempt, rather than hold it past its lease.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

from core import clock
from core.errors import RateLimited

WINDOW = 60.0  # seconds: Discourse's admin limiter is a sliding window of one minute
# A waiter counts until it should have asked again, plus this margin; after that its
# process has died and it no longer holds others back.
LAPSE = 5.0
RECHECK = 1.0  # seconds a request waits behind a more urgent one before it looks again

PRIORITIES = ("moderator", "sync", "section", "scan")  # most urgent first
RANK = {name: rank for rank, name in enumerate(PRIORITIES)}
DEFAULT_PRIORITY = "sync"

_priority: ContextVar[str] = ContextVar("forum_budget_priority", default=DEFAULT_PRIORITY)
_deadline: ContextVar[float | None] = ContextVar("forum_budget_deadline", default=None)


class BudgetExhausted(RateLimited):
    """The budget has no place for this request within the time the caller may wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"forum budget: no request free for {retry_after:.0f} s",
            platform="forum",
            retry_after=retry_after,
            code="constellate_forum_budget",
        )


@contextmanager
def priority(name: str) -> Iterator[None]:
    """Forum requests made inside the block spend at priority ``name``."""
    token = set_priority(name)
    try:
        yield
    finally:
        reset_priority(token)


def set_priority(name: str) -> Token[str]:
    """``priority`` for code that cannot wrap a block (a request's before and teardown)."""
    if name not in RANK:
        raise ValueError(f"unknown forum budget priority {name!r}; one of {PRIORITIES}")
    return _priority.set(name)


def reset_priority(token: Token[str]) -> None:
    _priority.reset(token)


@contextmanager
def deadline(at: datetime) -> Iterator[None]:
    """No forum request made inside the block waits for the budget past ``at``."""
    token = _deadline.set(at.timestamp())
    try:
        yield
    finally:
        _deadline.reset(token)


@dataclass(frozen=True)
class Limits:
    per_minute: int = 60  # the site's max_admin_api_reqs_per_minute
    share: float = 0.5  # of it, what Constellate may spend

    @property
    def allowed(self) -> int:
        return max(1, math.floor(self.per_minute * self.share))


UNLIMITED = Limits(per_minute=10**9, share=1.0)


class Turn(Protocol):
    """One process's exclusive turn at the ledger: what it reads stays true until it ends."""

    def window(self, since: float) -> list[tuple[float, str]]:
        """Spends after ``since`` (time, priority), oldest first; the others go."""

    def spend(self, at: float, priority: str) -> None: ...

    def waiting(self, now: float) -> dict[str, int]:
        """Waiters still waiting at ``now`` and their ranks; lapsed ones go."""

    def wait(self, waiter: str, rank: int, until: float) -> None:
        """``waiter`` waits until ``until`` at the latest (then asks again, or has died)."""

    def done(self, waiter: str) -> None: ...

    def paused_until(self) -> float: ...

    def pause(self, until: float) -> None:
        """Pause every process until ``until`` and count the 429."""

    def rate_limited(self) -> int:
        """429s the forum answered, counted since the ledger began."""


class Ledger(Protocol):
    def turn(self) -> AbstractContextManager[Turn]: ...


@dataclass(frozen=True)
class Status:
    allowed: int
    per_minute: int
    used: int
    used_by_priority: dict[str, int]
    waiting_by_priority: dict[str, int]
    rate_limited: int
    paused_for: float

    @property
    def left(self) -> int:
        return max(0, self.allowed - self.used)


class Budget:
    """``sleep`` waits until the clock (``core.clock``) has moved so far: by default the
    chosen clock's own wait, so a test or a benchmark that moves or compresses time moves
    the budget's waits with it."""

    def __init__(
        self, ledger: Ledger, limits: Limits, *, sleep: Callable[[float], None] = clock.sleep
    ) -> None:
        self.ledger = ledger
        self.limits = limits
        self.sleep = sleep
        # A 429 this process has just been answered, known to its threads before the
        # ledger is written: a request whose place was taken earlier must not follow it.
        self._held_until = 0.0

    def acquire(self, *, max_wait: float) -> float:
        """Take one request's place, waiting for it at most ``max_wait`` seconds (and not
        past the block's deadline); returns the seconds waited."""
        name = _priority.get()
        waiter = uuid.uuid4().hex
        waited = 0.0
        registered = False
        try:
            while True:
                now = clock.now().timestamp()
                wait = self._take(waiter, name, now, registered=registered)
                if wait is None:
                    registered = False
                    return waited
                registered = True
                limit = max_wait - waited
                end = _deadline.get()
                if end is not None:
                    limit = min(limit, end - now)
                if wait > limit:
                    raise BudgetExhausted(wait)
                self.sleep(wait)
                waited += wait
        finally:
            if registered:
                with self.ledger.turn() as turn:
                    turn.done(waiter)

    def _take(self, waiter: str, name: str, now: float, *, registered: bool) -> float | None:
        """The place, or how long to wait before asking again."""
        rank = RANK[name]
        allowed = self.limits.allowed
        with self.ledger.turn() as turn:
            spends = turn.window(now - WINDOW)
            paused = max(turn.paused_until(), self._held_until)
            ahead = any(r < rank for w, r in turn.waiting(now).items() if w != waiter)
            if now >= paused and len(spends) < allowed and not ahead:
                turn.spend(now, name)
                if registered:
                    turn.done(waiter)
                return None
            if now < paused:
                wait = paused - now
            elif len(spends) >= allowed:
                # Until the spend that must leave the window for this one to fit has left.
                wait = spends[len(spends) - allowed][0] + WINDOW - now
            else:
                wait = RECHECK
            turn.wait(waiter, rank, now + wait + LAPSE)
        return wait

    def hold(self, seconds: float) -> None:
        """A 429 has just come in, its body not yet read: this process's requests wait
        ``seconds`` from now (``pause`` then tells the other processes and counts it)."""
        self._held_until = max(self._held_until, clock.now().timestamp() + seconds)

    def held_for(self) -> float:
        """Seconds left of a pause this process knows of; no ledger turn, so cheap enough
        to ask just before every request is sent."""
        return max(0.0, self._held_until - clock.now().timestamp())

    def pause(self, seconds: float) -> None:
        """The forum answered 429: every process waits ``seconds`` from now."""
        self.hold(seconds)
        now = clock.now().timestamp()
        with self.ledger.turn() as turn:
            turn.pause(max(turn.paused_until(), now + seconds))

    def status(self) -> Status:
        now = clock.now().timestamp()
        with self.ledger.turn() as turn:
            spends = turn.window(now - WINDOW)
            waiting = turn.waiting(now)
            paused = turn.paused_until()
            limited = turn.rate_limited()
        return Status(
            allowed=self.limits.allowed,
            per_minute=self.limits.per_minute,
            used=len(spends),
            used_by_priority={p: sum(1 for _, q in spends if q == p) for p in PRIORITIES},
            waiting_by_priority={
                p: sum(1 for r in waiting.values() if r == RANK[p]) for p in PRIORITIES
            },
            rate_limited=limited,
            paused_for=max(0.0, paused - now),
        )


class MemoryLedger:
    """One process's ledger: for a forum client used outside the service (a test, a
    one-off script), where no store says what other processes spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spends: list[tuple[float, str]] = []
        self.waiters: dict[str, tuple[int, float]] = {}
        self.until = 0.0
        self.limited = 0

    @contextmanager
    def turn(self) -> Iterator[MemoryLedger]:
        with self._lock:
            yield self

    def window(self, since: float) -> list[tuple[float, str]]:
        self.spends = [s for s in self.spends if s[0] > since]
        return list(self.spends)

    def spend(self, at: float, priority: str) -> None:
        self.spends.append((at, priority))

    def waiting(self, now: float) -> dict[str, int]:
        self.waiters = {w: v for w, v in self.waiters.items() if v[1] >= now}
        return {w: rank for w, (rank, _) in self.waiters.items()}

    def wait(self, waiter: str, rank: int, until: float) -> None:
        self.waiters[waiter] = (rank, until)

    def done(self, waiter: str) -> None:
        self.waiters.pop(waiter, None)

    def paused_until(self) -> float:
        return self.until

    def pause(self, until: float) -> None:
        self.until = until
        self.limited += 1

    def rate_limited(self) -> int:
        return self.limited


APP_KEY = "constellate.forum_budget"
_chosen: ContextVar[Budget | None] = ContextVar("constellate_forum_budget", default=None)


def unmetered() -> Budget:
    """For a forum client used outside the service (a test, a one-off script), which
    cannot know what other processes spend: it only waits out the 429s it is answered."""
    return Budget(MemoryLedger(), UNLIMITED)


def limits_of(settings: Any) -> Limits:
    forum = settings["forum"]
    return Limits(int(forum["requests_per_minute"]), float(forum["budget_share"]))


def current() -> Budget | None:
    """The budget chosen here: ``using``'s, else the current app's, else none."""
    chosen = _chosen.get()
    if chosen is None and has_app_context():
        chosen = current_app.extensions.get(APP_KEY)
    return chosen


def of_app(app: Flask) -> Budget:
    """The budget an app was made with (``core.forum_budget_ledgers.init_app``)."""
    budget: Budget = app.extensions[APP_KEY]
    return budget


@contextmanager
def using(budget: Budget) -> Iterator[None]:
    """Spend from ``budget`` for every forum request of this block in this thread."""
    token = _chosen.set(budget)
    try:
        yield
    finally:
        _chosen.reset(token)
