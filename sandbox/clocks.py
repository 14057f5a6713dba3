"""Compressed time for running the sandboxes and the service together: one clock object
given to the forum sandbox, the app and its workers, so the forum's rate limiter and the
service's budget agree on what a minute is. Used by tests and benchmarks."""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class ScaledClock:
    """Time that runs ``factor`` times faster than real time from ``start``, the same in
    every process given the same three numbers (the monotonic clock is the machine's)."""

    def __init__(self, start: datetime, factor: float, origin: float | None = None) -> None:
        # One tuple, replaced whole: a thread reading the clock while ``set_factor`` runs
        # sees the old speed or the new one, never half of each.
        self._base = (start, factor, time.monotonic() if origin is None else origin)

    @property
    def start(self) -> datetime:
        return self._base[0]

    @property
    def factor(self) -> float:
        return self._base[1]

    @property
    def origin(self) -> float:
        return self._base[2]

    def __call__(self) -> datetime:
        start, factor, origin = self._base
        return start + timedelta(seconds=(time.monotonic() - origin) * factor)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.factor)

    def set_factor(self, factor: float) -> None:
        """Run at ``factor`` from now on; the time goes on from where it is (one process
        only: ``arguments`` given out before no longer make the same clock)."""
        now = time.monotonic()
        start, old, origin = self._base
        self._base = (start + timedelta(seconds=(now - origin) * old), factor, now)

    def arguments(self) -> list[str]:
        """What another process needs to make the same clock."""
        return [self.start.isoformat(), repr(self.factor), repr(self.origin)]
