"""Prometheus metrics: ``GET /metrics`` on the web service, ``--metrics-port`` on workers.

Two kinds of numbers:

- Read from the store at scrape time, so they are right however many processes and
  machines share it: inbox events by state, how long the longest-waiting due event has
  waited, outgoing messages by state, and outgoing delivery attempts by outcome. Only
  the web ``/metrics`` carries these (scrape one web instance or take ``max``).
- Counted in the process doing the work: event processing time (claim to settle, by
  outcome) and latency (received to done), platform HTTP requests by status, and the
  waits the platforms ask for (forum 429s, wiki maxlag).

Several processes on one machine (gunicorn workers): set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory, wiped before each start, in the environment of the server
before it starts. Every process then keeps its counts in files there and ``/metrics``
adds them up. There are no live gauges among them, so gunicorn needs no ``child_exit``
hook.

``constellate worker --metrics-port PORT [--metrics-host ADDR]`` serves the worker
process's own counts (without the store's numbers) on 127.0.0.1 unless told otherwise;
that server has no token check, so keep it on a private address. Run workers without
``PROMETHEUS_MULTIPROC_DIR`` (or with a directory of their own), or their counts would
also show up in the web service's ``/metrics``.

``/metrics`` asks for an API token (``Authorization: Bearer cst_…``, made with
``constellate api-token create NAME``): set it as the scrape job's bearer token.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import ConfigError
from core.models import InboxEvent
from core.store import Store, get_store
from webhooks.outgoing.models import MESSAGE_STATES, DeliveryAttempt, OutgoingMessage

if TYPE_CHECKING:
    import requests

log = logging.getLogger("constellate.metrics")

INBOX_STATES = ("pending", "claimed", "done", "ignored", "dead")
# inbox.settle writes a state; the histogram calls a failed attempt (back to pending) so.
OUTCOMES = {"pending": "failed", "done": "done", "ignored": "ignored", "dead": "dead"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
EXTENSION_KEY = "constellate.metrics"
# Delivery attempts older than this are committed: they are counted once and remembered.
ATTEMPTS_SETTLE_AFTER = timedelta(minutes=10)

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


# -- counting where the work happens ---------------------------------------------------------


def count_platform_request(platform: str, status: int | str) -> None:
    """One HTTP answer (its status) or transport failure ("error") from a platform."""
    PLATFORM_REQUESTS.labels(platform, str(status)).inc()


def count_rate_limit_wait(platform: str, seconds: float) -> None:
    """A client is about to sleep ``seconds`` because the platform asked it to."""
    RATE_LIMIT_WAITS.labels(platform).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(platform).inc(max(0.0, seconds))


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


# -- reading the store at scrape time --------------------------------------------------------


class StoreCollector:
    """Numbers every process would agree on, read from the store when scraped.

    Counts by state use the (state, id) indexes. Delivery attempts have no index but
    their id and are never changed or deleted, so old ones are counted once per process
    and only the newest are counted on each scrape.
    """

    def __init__(self, store: Callable[[], Store]):
        self.store = store
        self._lock = threading.Lock()
        self._attempts_upto = 0
        self._attempts_counted: Tally[str] = Tally()

    def describe(self) -> Iterable[Any]:
        return []  # registering must not query the store

    def collect(self) -> Iterator[Any]:
        now = clock.now()  # a scrape is a request: the app's clock
        try:
            with self.store().session() as session:
                inbox = _count_states(session, InboxEvent, INBOX_STATES)
                oldest = session.scalar(
                    select(func.min(InboxEvent.available_at)).where(InboxEvent.state == "pending")
                )
                outgoing = _count_states(session, OutgoingMessage, MESSAGE_STATES)
                attempts = self._attempts(session, now)
        except Exception as exc:  # the process's own metrics are still worth serving
            log.warning("metrics: the store could not be read: %s: %s", type(exc).__name__, exc)
            yield GaugeMetricFamily(
                "constellate_store_up", "1 if the store answered this scrape.", value=0
            )
            return
        yield GaugeMetricFamily(
            "constellate_store_up", "1 if the store answered this scrape.", value=1
        )
        events = GaugeMetricFamily(
            "constellate_inbox_events", "Inbox events by state.", labels=["state"]
        )
        for state in INBOX_STATES:
            events.add_metric([state], inbox[state])
        yield events
        waited = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "constellate_inbox_oldest_pending_seconds",
            "How long the longest-waiting pending event has been due (0: none is due).",
            value=waited,
        )
        messages = GaugeMetricFamily(
            "constellate_outgoing_messages", "Outgoing webhook messages by state.", labels=["state"]
        )
        for state in MESSAGE_STATES:
            messages.add_metric([state], outgoing[state])
        yield messages
        tries = CounterMetricFamily(
            "constellate_outgoing_attempts",
            "Outgoing webhook delivery attempts by outcome (failed: no 2xx answer).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "failed"):
            tries.add_metric([outcome], attempts[outcome])
        yield tries

    def _attempts(self, session: Session, now: datetime) -> Tally[str]:
        outcome = case(
            (DeliveryAttempt.status.between(200, 299), "delivered"), else_="failed"
        ).label("outcome")
        with self._lock:
            settled_upto = session.scalar(
                select(func.max(DeliveryAttempt.id)).where(
                    DeliveryAttempt.id > self._attempts_upto,
                    DeliveryAttempt.attempted_at < now - ATTEMPTS_SETTLE_AFTER,
                )
            )
            if settled_upto is not None:
                self._attempts_counted += _tally(
                    session,
                    select(outcome, func.count()).where(
                        DeliveryAttempt.id > self._attempts_upto,
                        DeliveryAttempt.id <= settled_upto,
                    ),
                )
                self._attempts_upto = settled_upto
            recent = _tally(
                session,
                select(outcome, func.count()).where(DeliveryAttempt.id > self._attempts_upto),
            )
            return self._attempts_counted + recent  # a missing outcome reads as 0


def _count_states(session: Session, model: Any, states: Iterable[str]) -> dict[str, int]:
    return {
        state: int(
            session.scalar(select(func.count()).select_from(model).where(model.state == state)) or 0
        )
        for state in states
    }


def _tally(session: Session, query: Any) -> Tally[str]:
    rows = session.execute(query.group_by("outcome")).all()
    return Tally({str(name): int(count) for name, count in rows})


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


def scrape_registry(
    store: Callable[[], Store],
    *,
    directory: str | None = None,
) -> CollectorRegistry:
    """What ``/metrics`` shows: the processes' counts and, once, the store's numbers."""
    registry = CollectorRegistry()
    registry.register(process_registry(directory))
    registry.register(StoreCollector(store))
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


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape() -> Response:
    from dashboards import tokens  # the dashboards build on the core, not the other way

    header = request.headers.get("Authorization", "")
    name = tokens.check(header.removeprefix("Bearer ").strip()) if header[:7] == "Bearer " else None
    if name is None:
        if header:
            log.warning("metrics: refused a scrape with an unknown or revoked token")
        refused = Response(
            "send an API token: Authorization: Bearer cst_…\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        refused.headers["WWW-Authenticate"] = 'Bearer realm="constellate"'
        return refused
    registry: CollectorRegistry = current_app.extensions[EXTENSION_KEY]
    answer = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def init_app(app: Flask) -> None:
    from dashboards.security import csrf

    app.extensions[EXTENSION_KEY] = scrape_registry(lambda: get_store(app))
    app.register_blueprint(blueprint)
    csrf.exempt(blueprint)  # GET only; the token is the credential, not a cookie
