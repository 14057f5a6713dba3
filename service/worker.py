"""Workers: claim inbox events with a lease, dispatch them, retry or dead-letter them."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta
from typing import Any, NamedTuple

from flask import Flask

from community.handling import Handler, HandlerContext
from core import event_kinds, forum_budget, inbox, logs, telemetry, wakeup
from core.clock import Clock, current, of_app, using
from core.config import Settings
from core.errors import RateLimited, Unavailable, describe
from core.events import Event
from core.forum_budget_ledgers import budget_for
from core.store import Store, get_store
from service import dispatch
from service.lease_keeper import LeaseKeeper
from service.timers import Timers
from webhooks.automations import engine
from webhooks.incoming import discourse_checks, wiki_feed
from webhooks.outgoing import delivery, queue

log = logging.getLogger(__name__)

EMBEDDED_KEY = "constellate.worker"


def wake() -> None:
    """Tell idle workers (this process's, or any machine's with a Redis queue) to look at
    the store now; called after the commit that recorded the work."""
    wakeup.notify()


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Outgoing sends a cycle may start: incoming events must not wait behind a dead receiver.
DELIVERY_BUDGET_SECONDS = 5.0


class Worker:
    """Processes inbox events one at a time; any number may run against one store.

    ``clock``, ``sleep``, ``jitter`` and ``handlers_for`` are injectable so tests control
    time and the dispatch table; ``clock`` (by default the one chosen where the worker is
    made) answers every ``now()`` of the worker's cycles, handlers included, and its waits
    for the deployment's forum budget.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        worker_id: str | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = wakeup.wait,
        jitter: Callable[[], float] = random.random,
        handlers_for: Callable[[str], tuple[Handler, ...]] = dispatch.handlers_for,
        poll_platforms: bool = False,
    ) -> None:
        self.store = store
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock or current()
        self.budget = budget_for(settings, store)
        self.sleep = sleep
        self.jitter = jitter
        self.handlers_for = handlers_for
        config = settings["worker"]
        self.lease_seconds = float(config["lease_seconds"])
        self.max_attempts = int(config["max_attempts"])
        self.poll_seconds = float(config["poll_seconds"])
        self.bot_names = _bot_names(settings)
        self.leases = LeaseKeeper(store, self.clock, self.lease_seconds)
        # This worker's platform clients, kept from event to event (one wiki login).
        self.clients: dict[str, Any] = {}
        # Service workers also read the platforms' changes (and hear the wiki's feed) and
        # look for scheduled work; unit tests of the worker leave this off.
        self.poll_platforms = poll_platforms
        self.timers = Timers(
            store, settings, self.clock, enabled=poll_platforms, report=self._report
        )
        self._last_trouble = ""

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; the event in hand is always finished first."""
        log.info("worker %s started", self.worker_id)
        # The worker that polls the wiki also hears its feed: one listener per poller.
        feed = (
            wiki_feed.listening(self.store, self.settings, self.clock)
            if self.poll_platforms
            else nullcontext()
        )
        with feed:
            while not stop.is_set():
                try:
                    worked = self.run_once()
                except Exception as exc:  # a store hiccup must not end the worker; try later
                    self._report("cycle failed", exc)
                    worked = False
                if not worked and not stop.is_set():
                    self.sleep(self.poll_seconds)
        log.info("worker %s stopped", self.worker_id)

    def run_once(self) -> bool:
        """Poll the platforms when due, deliver due outgoing messages, then process one
        inbox event; False if none was due."""
        with using(self.clock), forum_budget.using(self.budget):
            self.poll()
            self.deliver()
            held = self.claim()
            if held is None:
                return False
            self.process(held)
            return True

    def deliver(self) -> None:
        try:
            # Each message reads the clock at its own send: its lease and webhook-timestamp
            # must be fresh.
            delivery.deliver_due(self.store, self.settings, budget_seconds=DELIVERY_BUDGET_SECONDS)
        except Exception as exc:  # outgoing trouble must not stop incoming work
            self._report("outgoing delivery failed", exc)

    def poll(self) -> None:
        """Read the platforms' changes and look for scheduled work, each when it is due."""
        self.timers.run_due()

    def _report(self, what: str, exc: Exception) -> None:
        """A traceback for a new trouble, one line while the same trouble repeats each poll."""
        text = f"{what}: {describe(exc)}"
        if text == self._last_trouble:
            log.warning("worker %s: still %s", self.worker_id, text)
        else:
            log.error("worker %s: %s", self.worker_id, what, exc_info=exc)
        self._last_trouble = text

    def claim(self) -> inbox.Claim | None:
        with self.store.session() as session:
            return inbox.claim(
                session, self.worker_id, now=self.clock(), lease_seconds=self.lease_seconds
            )

    def process(self, held: inbox.Claim) -> None:
        """Handle one claimed event, timed for /metrics; its log lines carry its id."""
        event = held.event
        with (
            logs.bound(event_id=event.event_id, kind=event.kind, worker_id=self.worker_id),
            telemetry.processing(held.received_at),
            # Waiting for the forum budget must end well inside the lease.
            forum_budget.deadline(held.lease_until - timedelta(seconds=self.lease_seconds / 4)),
            self.leases.keeping(held),
        ):
            self._process(held)

    def _process(self, held: inbox.Claim) -> None:
        """Handlers, fan-out and completion in one transaction."""
        event = held.event
        if held.lapsed and held.attempt > self.max_attempts:
            self._settle(held, state="dead", reason=self._gave_up(inbox.LAPSED))
            return
        # The receiver checked only what the inbox row needs; the full schema is checked
        # here, and a body failing it can never succeed: dead at once, with the reason.
        invalid = None if held.body_checked else discourse_checks.full_problem(event)
        if invalid is not None:
            log.error("event %s is dead: %s", event.event_id, invalid)
            self._settle(held, state="dead", reason=invalid)
            return
        if self._is_echo(event):
            self._settle(held, state="ignored", reason="echo", processed_at=self.clock())
            return
        try:
            handlers = self.handlers_for(event.kind)
        except dispatch.UnknownKind:
            self._settle(held, state="dead", reason=f"unknown kind: {event.kind}")
            return
        rules = engine.matching(engine.rules_for(self.settings), event)
        if not handlers and not rules:
            self._ignore(held)
            return
        try:
            with self.store.session() as session:
                context = HandlerContext(session, self.settings, self.clients)
                for handler in handlers:
                    handler(event, context)
                # After the handlers: rules read what they recorded (activity, first posts).
                engine.run_rules(event, context, rules=rules, now=self.clock())
                queue.fan_out(session, event, self.settings)
                inbox.settle(session, held, state="done", processed_at=self.clock())
        except inbox.LeaseLost as exc:  # rolled back: the new holder does the work
            log.warning("worker %s: %s; its work was rolled back", self.worker_id, exc)
        except Exception as exc:
            self._failed(held, exc)
        else:
            log.info("event %s (%s) done", event.event_id, event.kind)

    def _ignore(self, held: inbox.Claim) -> None:
        """A kind nothing here acts on. Subscribers are still offered the kinds the
        catalogue announces (health alerts): the fan-out to outgoing webhooks happens
        here, for every event, and nowhere else."""
        settled = {"state": "ignored", "reason": "ignored kind", "processed_at": self.clock()}
        if not event_kinds.announced(held.event.kind):
            self._settle(held, **settled)
            return
        try:
            with self.store.session() as session:
                queue.fan_out(session, held.event, self.settings)
                inbox.settle(session, held, **settled)
        except inbox.LeaseLost as exc:  # rolled back: the new holder does the work
            log.warning("worker %s: %s; its work was rolled back", self.worker_id, exc)
        except Exception as exc:
            self._failed(held, exc)

    def _failed(self, held: inbox.Claim, exc: Exception) -> None:
        error = describe(exc)
        if isinstance(exc, forum_budget.BudgetExhausted):
            self._defer(held, exc)
            return
        # Every failure counts: with the default of 12 attempts the backoff rides out
        # about two hours of platform outage; after that `inbox retry` sends it round again.
        if held.attempt >= self.max_attempts:
            log.error("event %s is dead: %s", held.event.event_id, error)
            self._settle(held, state="dead", last_error=error, reason=self._gave_up(error))
            return
        retry_after = exc.retry_after if isinstance(exc, RateLimited | Unavailable) else None
        delay = inbox.backoff_seconds(held.attempt, retry_after=retry_after, jitter=self.jitter())
        log.warning(
            "event %s failed (attempt %d), retry in %.0fs: %s",
            held.event.event_id,
            held.attempt,
            delay,
            error,
        )
        self._settle(
            held,
            state="pending",
            last_error=error,
            available_at=self.clock() + timedelta(seconds=delay),
        )

    def _defer(self, held: inbox.Claim, exc: forum_budget.BudgetExhausted) -> None:
        """Back to pending until the budget has room; not a failure, so the claim does
        not count as an attempt (a busy forum must not kill events)."""
        log.info("event %s waits %.0fs for the forum budget", held.event.event_id, exc.retry_after)
        self._settle(
            held,
            state="pending",
            attempts=held.attempt - 1,
            available_at=self.clock() + timedelta(seconds=exc.retry_after),
        )

    def _gave_up(self, error: str) -> str:
        return f"gave up after {self.max_attempts} attempts: {error}"

    def _settle(self, held: inbox.Claim, **values: object) -> None:
        try:
            with self.store.session() as session:
                inbox.settle(session, held, **values)
        except inbox.LeaseLost as exc:
            log.warning("worker %s: %s", self.worker_id, exc)

    def _is_echo(self, event: Event) -> bool:
        return event.actor is not None and _normalise(event.actor) in self.bot_names


def _normalise(username: str) -> str:
    return username.replace("_", " ").strip().casefold()


def _bot_names(settings: Settings) -> frozenset[str]:
    """Our own accounts: changes they make are echoes of our work, not news."""
    wiki_user = str(settings.get("wiki", {}).get("username") or "").split("@")[0]
    forum_user = str(settings.get("forum", {}).get("api_username") or "")
    return frozenset(_normalise(name) for name in (wiki_user, forum_user) if name.strip())


class Embedded(NamedTuple):
    thread: threading.Thread
    stop: threading.Event


def init_app(app: Flask) -> None:
    """Start the embedded worker thread when configured (the one-process default).

    It starts with the first request (a webhook's too: ``start_embedded``), so commands
    that build the app without serving it (``flask db ...``) never process events. Tests
    that do not want it set ``worker.embedded = false``.
    """
    settings: Settings = app.config["CONSTELLATE"]
    wakeup.configure(settings)
    if settings["worker"]["embedded"]:
        app.before_request(lambda: start_embedded(app))


_starting = threading.Lock()


def start_embedded(app: Flask) -> None:
    """Start the app's embedded worker thread unless it runs already."""
    if EMBEDDED_KEY in app.extensions:
        return
    with _starting:
        if EMBEDDED_KEY in app.extensions:
            return
        settings: Settings = app.config["CONSTELLATE"]
        worker = Worker(get_store(app), settings, clock=of_app(app), poll_platforms=True)
        stop = threading.Event()  # for tests; the daemon thread ends with the process
        thread = threading.Thread(
            target=worker.run, args=(stop,), name="constellate-worker", daemon=True
        )
        app.extensions[EMBEDDED_KEY] = Embedded(thread, stop)
        thread.start()
