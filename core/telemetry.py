"""Telemetry: the process's own Prometheus instruments, counted where the work happens.

Event processing time (claim to settle, by outcome) and latency (received to done),
platform HTTP requests by status, the waits the platforms ask for (forum 429s, wiki
maxlag), and the wiki's recent-changes feed (messages by outcome, gaps the poll filled).
``GET /metrics`` (service/scrape.py) shows them with the store's numbers;
``constellate worker --metrics-port PORT [--metrics-host ADDR]`` serves a worker
process's own counts on 127.0.0.1 unless told otherwise; that server has no token
check, so keep it on a private address.

Several processes on one machine (gunicorn workers): set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory, wiped before each start, in the environment of the server
before it starts. Every process then keeps its counts in files there and ``/metrics``
adds them up. There are no live gauges among them, so gunicorn needs no ``child_exit``
hook. Run workers without ``PROMETHEUS_MULTIPROC_DIR`` (or with a directory of their
own), or their counts would also show up in the web service's ``/metrics``.

Not to be confused with conversation health's metrics (community/health/metrics.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    start_http_server,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from core import clock
from core.errors import ConfigError

if TYPE_CHECKING:
    import requests

log = logging.getLogger("constellate.metrics")

# inbox.settle writes a state; the histogram calls a failed attempt (back to pending) so.
OUTCOMES = {"pending": "failed", "done": "done", "ignored": "ignored", "dead": "dead"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The process's own instruments. Not in prometheus_client's global registry: /metrics
# shows exactly these plus the store's numbers.
LOCAL = CollectorRegistry()

EVENT_PROCESSING = Histogram(
    "constellate_event_processing_seconds",
    "Time from claiming an inbox event to settling it, by outcome "
    "(done, failed, ignored, dead; lost: another worker took it over; error: not settled).",
    ["outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=LOCAL,
)
EVENT_LATENCY = Histogram(
    "constellate_event_latency_seconds",
    "Time from receiving an event to finishing it (done): the lag people see.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    registry=LOCAL,
)
PLATFORM_REQUESTS = Counter(
    "constellate_platform_requests",
    "HTTP requests to the wiki and the forum by answer status (error: no answer).",
    ["platform", "status"],
    registry=LOCAL,
)
RATE_LIMIT_WAITS = Counter(
    "constellate_rate_limit_waits",
    "Waits the platforms asked for (forum 429, wiki maxlag) that a client sat out.",
    ["platform"],
    registry=LOCAL,
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "constellate_rate_limit_wait_seconds",
    "Seconds spent in those waits.",
    ["platform"],
    registry=LOCAL,
)

WIKI_FEED_MESSAGES = Counter(
    "constellate_wiki_feed_messages",
    "Messages of the wiki's recent-changes feed by outcome: recorded, duplicate (the inbox "
    "had it), unconfirmed (the wiki's API does not list it), unavailable (the wiki could "
    "not be asked; the poll fills it), or refused (oversized, not_json, bad_fields, "
    "other_wiki, unknown_type).",
    ["outcome"],
    registry=LOCAL,
)
WIKI_FEED_GAPS = Counter(
    "constellate_wiki_feed_gaps",
    "Changes the wiki poll recorded that the feed never announced (lost pushes, filled).",
    registry=LOCAL,
)


# -- counting where the work happens ---------------------------------------------------------


def count_platform_request(platform: str, status: int | str) -> None:
    """One HTTP answer (its status) or transport failure ("error") from a platform."""
    PLATFORM_REQUESTS.labels(platform, str(status)).inc()


def count_rate_limit_wait(platform: str, seconds: float) -> None:
    """A client is about to sleep ``seconds`` because the platform asked it to."""
    RATE_LIMIT_WAITS.labels(platform).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(platform).inc(max(0.0, seconds))


def count_feed_message(outcome: str) -> None:
    """What became of one message of the wiki's recent-changes feed."""
    WIKI_FEED_MESSAGES.labels(outcome).inc()


def count_feed_gaps(changes: int) -> None:
    """The poll recorded ``changes`` the feed should have announced and did not."""
    WIKI_FEED_GAPS.inc(changes)


def wiki_wait_callback(
    last_response: Callable[[], requests.Response | None],
) -> Callable[[Any, int, Any], None]:
    """mwclient's ``wait_callback``: counts its retry sleeps that wait out maxlag.

    mwclient calls it just before each retry sleep, for lag, 5xx answers and connection
    errors alike; only a lag answer (``X-Database-Lag``) is a wait the wiki asked for.
    The sleep is mwclient 0.11's: the retry's step, but at least the wiki's Retry-After.
    """

    def waited(sleeper: Any, retries: int, _args: Any) -> None:
        response = last_response()
        if response is None or "x-database-lag" not in response.headers:
            return
        try:
            asked = float(response.headers.get("retry-after", 0))
        except ValueError:
            asked = 0.0
        count_rate_limit_wait("wiki", max(float(sleeper.retry_timeout) * (retries - 1), asked))

    return waited


@dataclass
class _Processing:
    started: float
    outcome: str = "lost"  # stays so when the claim was lost before settling


_PROCESSING: ContextVar[_Processing | None] = ContextVar("constellate_processing", default=None)


@contextmanager
def processing(received_at: datetime | None) -> Iterator[None]:
    """Time one claimed event until it is settled; ``settled`` names the outcome.

    The latency is read on the clock chosen here (the worker's, which stamps
    ``processed_at``), the same clock as the event's other times.
    """
    slot = _Processing(time.monotonic())
    token = _PROCESSING.set(slot)
    try:
        yield
    except BaseException:
        slot.outcome = "error"
        raise
    finally:
        _PROCESSING.reset(token)
        EVENT_PROCESSING.labels(slot.outcome).observe(time.monotonic() - slot.started)
        if slot.outcome == "done" and received_at is not None:
            EVENT_LATENCY.observe(max(0.0, (clock.now() - received_at).total_seconds()))


def settled(state: str | None) -> None:
    """The inbox wrote ``state`` for the event being processed here (the last one counts:
    a done whose commit fails is followed by a failed)."""
    slot = _PROCESSING.get()
    if slot is not None and state is not None:
        slot.outcome = OUTCOMES.get(state, state)


# -- exposing ----------------------------------------------------------------------------------


def multiprocess_directory() -> str | None:
    """The directory this process keeps its counts in, or None (counts in memory).

    prometheus_client picks file-backed values when it is first imported, from the
    environment; what it picked decides, not the variable as it is now.
    """
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get(MULTIPROC_ENV) or None


def process_registry(directory: str | None = None) -> CollectorRegistry:
    """This process's counts, or with ``directory`` every process's counts kept there."""
    directory = directory or multiprocess_directory()
    if not directory:
        return LOCAL
    if not os.path.isdir(directory):
        raise ConfigError(f"{MULTIPROC_ENV}: {directory} is not a directory")
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


def serve(port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve this process's counts over HTTP in a daemon thread (for ``constellate worker``)."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=process_registry())
    except OSError as exc:
        raise ConfigError(f"--metrics-port: cannot listen on {host}:{port}: {exc}") from None
    log.info("metrics served on %s:%d", host, port)
    return server


@contextmanager
def serving(port: int | None, host: str = "127.0.0.1") -> Iterator[None]:
    """``serve`` while the block runs; nothing when ``port`` is None."""
    if port is None:
        yield
        return
    server = serve(port, host)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
