"""The one place product code reads the wall clock.

Code that decides by the time (what is due, what is stale, what a row is stamped with)
calls ``now()``. Which clock answers is chosen by whoever runs the code, never inherited
by accident:

- an app made with ``create_app(config, clock=…)`` answers with that clock in its
  requests, its commands and its worker threads (Flask's app context carries it);
- ``using(clock)`` chooses one for a block, in this thread only: the worker wraps each
  event in its own clock, a command in the app's;
- otherwise the system clock.

The choice is a context variable, so two apps in one process (tests) and the threads of
one app never see each other's clock. Durations are measured with ``time.monotonic()``,
which decides nothing about dates and may be read anywhere.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

Clock = Callable[[], datetime]

APP_KEY = "constellate.clock"

_chosen: ContextVar[Clock | None] = ContextVar("constellate_clock", default=None)


def system_clock() -> datetime:
    """The real time in UTC: the only wall-clock read of the product."""
    return datetime.now(UTC)


def current() -> Clock:
    """The clock chosen here: ``using``'s, else the current app's, else the system's."""
    chosen = _chosen.get()
    # Read through sys.modules: a process that never loaded Flask (a receiving one) has
    # no app context, and importing Flask here would cost it the memory.
    flask = sys.modules.get("flask")
    if chosen is None and flask is not None and flask.has_app_context():
        chosen = flask.current_app.extensions.get(APP_KEY)
    return chosen or system_clock


def now() -> datetime:
    """The time by the clock chosen here, timezone-aware UTC."""
    moment = current()()
    if moment.tzinfo is None:
        raise ValueError("a clock must answer an aware UTC time")
    return moment


@contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Read ``clock`` for every ``now()`` of this block in this thread."""
    token = _chosen.set(clock)
    try:
        yield
    finally:
        _chosen.reset(token)


def sleep(seconds: float) -> None:
    """Wait until the clock chosen here has moved ``seconds``: a clock that runs faster
    than the real one (a benchmark's) or is moved by hand (a test's) says how, with a
    ``sleep`` method of its own; otherwise a real wait."""
    wait = getattr(current(), "sleep", None) or time.sleep
    wait(max(0.0, seconds))


def init_app(app: Flask, clock: Clock | None) -> None:
    app.extensions[APP_KEY] = clock or system_clock


def of_app(app: Flask) -> Clock:
    """The clock an app was made with (its threads take it along)."""
    clock: Clock = app.extensions.get(APP_KEY, system_clock)
    return clock
