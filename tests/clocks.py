"""A clock the tests set and move by hand; pass it to everything the test runs. (Compressed
time, for tests that run processes: sandbox.clocks.ScaledClock.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from core import forum_budget
from core.clock import Clock, using


class FakeClock:
    """Answers ``now`` until moved; give it to the app, the worker and the sandbox alike."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a fake clock starts at an aware UTC time")
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def sleep(self, seconds: float) -> None:
        """A wait on this clock (``core.clock.sleep``) moves it at once."""
        self.advance(seconds=seconds)


def chosen(start: datetime) -> Iterator[FakeClock]:
    """For a fixture (``yield from chosen(T0)``): a fake clock that also answers every
    ``now()`` the test's own code reaches outside an app (stores written directly,
    commands invoked in-process) until the test ends."""
    fake = FakeClock(start)
    with using(fake):
        yield fake


@contextmanager
def forum_time(now: Clock, sleep: Callable[[float], None]) -> Iterator[None]:
    """``now`` for every clock read of the block and ``sleep`` for the forum budget's
    waits, in an unmetered budget of the block's own (it only waits out 429s)."""
    budget = forum_budget.Budget(forum_budget.MemoryLedger(), forum_budget.UNLIMITED, sleep=sleep)
    with using(now), forum_budget.using(budget):
        yield
