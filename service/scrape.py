"""``GET /metrics``: the processes' telemetry (core/telemetry.py) and, read from the store
at scrape time, numbers every process would agree on however many processes and machines
share it: inbox events by state, how long the longest-waiting due event has waited,
outgoing messages by state, outgoing delivery attempts by outcome, and the shared forum
request budget (from the store, or Redis when the queue is Redis). Only the web
``/metrics`` carries the store's numbers (scrape one web instance or take ``max``).

``/metrics`` asks for an API token (``Authorization: Bearer cst_…``, made with
``constellate api-token create NAME``): set it as the scrape job's bearer token.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core import clock, forum_budget
from core.models import InboxEvent
from core.store import Store, get_store
from core.telemetry import process_registry
from dashboards import tokens
from dashboards.security import csrf
from webhooks.outgoing.models import MESSAGE_STATES, DeliveryAttempt, OutgoingMessage

log = logging.getLogger("constellate.metrics")

INBOX_STATES = ("pending", "claimed", "done", "ignored", "dead")
EXTENSION_KEY = "constellate.metrics"
# Delivery attempts older than this are committed: they are counted once and remembered.
ATTEMPTS_SETTLE_AFTER = timedelta(minutes=10)


class StoreCollector:
    """Numbers every process would agree on, read from the store when scraped.

    Counts by state use the (state, id) indexes. Delivery attempts have no index but
    their id and are never changed or deleted, so old ones are counted once per process
    and only the newest are counted on each scrape.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        budget: Callable[[], forum_budget.Budget] | None = None,
    ):
        self.store = store
        self.budget = budget
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
        if self.budget is not None:
            yield from self._budget(self.budget)

    def _budget(self, budget: Callable[[], forum_budget.Budget]) -> Iterator[Any]:
        try:
            status = budget().status()
        except Exception as exc:  # Redis may be down while the store answers
            log.warning(
                "metrics: the forum budget could not be read: %s: %s", type(exc).__name__, exc
            )
            return
        yield GaugeMetricFamily(
            "constellate_forum_budget_requests_per_minute",
            "Forum requests a minute the forum allows its admin API keys together.",
            value=status.per_minute,
        )
        yield GaugeMetricFamily(
            "constellate_forum_budget_requests_allowed",
            "Of those, the forum requests a minute Constellate may spend (its share).",
            value=status.allowed,
        )
        used = GaugeMetricFamily(
            "constellate_forum_budget_requests_used",
            "Forum requests spent in the last 60 seconds, by the priority of the work.",
            labels=["priority"],
        )
        waiting = GaugeMetricFamily(
            "constellate_forum_budget_waiting",
            "Forum requests waiting for a place in the budget, by priority.",
            labels=["priority"],
        )
        for name in forum_budget.PRIORITIES:
            used.add_metric([name], status.used_by_priority[name])
            waiting.add_metric([name], status.waiting_by_priority[name])
        yield used
        yield GaugeMetricFamily(
            "constellate_forum_budget_requests_left",
            "Forum requests Constellate may still spend in the last 60 seconds' window.",
            value=status.left,
        )
        yield waiting
        yield CounterMetricFamily(
            "constellate_forum_budget_rate_limited",
            "429 answers from the forum, counted by every process in the shared ledger.",
            value=status.rate_limited,
        )
        yield GaugeMetricFamily(
            "constellate_forum_budget_paused_seconds",
            "Seconds left of the pause every process keeps after a 429 (0: none).",
            value=status.paused_for,
        )

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


def scrape_registry(
    store: Callable[[], Store],
    *,
    budget: Callable[[], forum_budget.Budget] | None = None,
    directory: str | None = None,
) -> CollectorRegistry:
    """What ``/metrics`` shows: the processes' counts and, once, the store's numbers (and
    the forum ``budget``'s, when given)."""
    registry = CollectorRegistry()
    registry.register(process_registry(directory))
    registry.register(StoreCollector(store, budget))
    return registry


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape() -> Response:
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
    app.extensions[EXTENSION_KEY] = scrape_registry(
        lambda: get_store(app),
        budget=lambda: forum_budget.of_app(app),
    )
    app.register_blueprint(blueprint)
    csrf.exempt(blueprint)  # GET only; the token is the credential, not a cookie
