"""A clock the tests set and move by hand; pass it to everything the test runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from core.clock import using


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


def chosen(start: datetime) -> Iterator[FakeClock]:
    """For a fixture (``yield from chosen(T0)``): a fake clock that also answers every
    ``now()`` the test's own code reaches outside an app (stores written directly,
    commands invoked in-process) until the test ends."""
    fake = FakeClock(start)
    with using(fake):
        yield fake
