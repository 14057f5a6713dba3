"""Driving the service under faults: workers on a fake clock, forum events captured and
delivered as Discourse would sign them, and what the proxies' logs must show."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.models import InboxEvent
from sandbox.forum.state import ForumEvent
from sandbox.forum.webhook_delivery import encode_body, request_headers
from service.worker import Worker
from tests.clocks import FakeClock
from tests.conftest import SessionForum
from tests.faults.conftest import WEBHOOK_SECRET, FaultyService
from tests.faults.proxy import DECK, FaultProxy

ROUNDS = 100
# Fake time added past the next retry each round, so retries run in batches, in parallel.
STEP = timedelta(minutes=10)


class PacedClock(FakeClock):
    """A fake clock whose waits (the forum budget's, after a 429) also pass in real time:
    the fault proxies are real servers, and they check that an asked wait was kept."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        # Waits that overlap in real time overlap here too: each moves the clock to its
        # own end, never by its length on top of another thread's (which would end every
        # other wait, a 429's pause among them, early in real time).
        until = self.now + timedelta(seconds=seconds)
        time.sleep(seconds)
        with self._lock:
            self.now = max(self.now, until)


def work_until_settled(service: FaultyService, *, threads: int = 4, seed: int = 7) -> int:
    """Workers process the inbox until nothing is pending or claimed; returns the rounds.

    Each round every worker takes events until none is due at the clock's time; between
    rounds (no worker busy, so no lease can lapse) the clock jumps past the next retry.
    No event runs before its backoff (or Retry-After) is over, in fake time.
    """
    clock = PacedClock(datetime(2030, 1, 1, tzinfo=UTC))
    jitter = random.Random(seed)
    workers = [
        Worker(
            service.store,
            service.settings,
            worker_id=f"fault-worker-{n}",
            clock=clock,
            sleep=lambda _seconds: None,
            jitter=jitter.random,
        )
        for n in range(threads)
    ]
    crashed: list[BaseException] = []

    def drain(worker: Worker) -> None:
        try:
            while worker.run_once():
                pass
        except BaseException as exc:  # reported below, in the test's thread
            crashed.append(exc)

    for round_number in range(1, ROUNDS + 1):
        running = [threading.Thread(target=drain, args=(worker,)) for worker in workers]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()
        if crashed:
            raise AssertionError(f"a worker crashed: {crashed[0]!r}") from crashed[0]
        with service.store.session() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.state.in_(("pending", "claimed")))
            )
            if not busy:
                return round_number
            due = session.scalar(
                select(func.min(InboxEvent.available_at)).where(InboxEvent.state == "pending")
            )
        if due is not None:  # the next retry, and every other one due within a step
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            clock.now = max(clock.now, due) + STEP
    raise AssertionError(f"events still pending after {ROUNDS} rounds")


@contextmanager
def captured_events(forum: SessionForum) -> Iterator[list[ForumEvent]]:
    """Every event the forum sandbox emits inside the block (what its webhooks would send)."""
    events: list[ForumEvent] = []
    listener: Callable[[ForumEvent], None] = events.append
    forum.forum.listeners.append(listener)
    try:
        yield events
    finally:
        forum.forum.listeners.remove(listener)


def deliver(client: FlaskClient, service: FaultyService, events: list[ForumEvent]) -> list[int]:
    """POST each event to /webhooks/discourse, signed as the forum signs its webhooks and
    sent from the forum the service is configured with; returns the statuses."""
    hook: dict[str, Any] = {
        "payload_url": "http://constellate.test/webhooks/discourse",
        "secret": WEBHOOK_SECRET,
        "content_type": 1,
    }
    instance = str(service.settings["forum"]["url"])
    statuses: list[int] = []
    for number, event in enumerate(events, start=1):
        body = encode_body(event.event_type, event.payload).encode()
        headers = request_headers(hook, number, event.event_type, event.event_name, body, instance)
        for transport in ("Host", "Content-Length", "Connection"):
            headers.pop(transport)
        statuses.append(client.post("/webhooks/discourse", data=body, headers=headers).status_code)
    return statuses


def check_proxy_log(proxy: FaultProxy, *, share: tuple[float, float], each: int) -> None:
    """Every fault was injected at least ``each`` times, the failed share is within
    ``share``, and every asked wait was kept by the connection it was asked of."""
    records = proxy.records
    # A whole deck went through: from then on each fault's count is at least its rate's.
    assert len(records) >= DECK, f"{proxy.platform}: only {len(records)} calls"
    counts = proxy.fault_counts()
    expected = set(proxy.rates)
    assert {fault for fault in expected if counts[fault] >= each} == expected, (
        f"{proxy.platform}: faults injected {dict(counts)} of {len(records)} calls"
    )
    low, high = share
    assert low <= proxy.failure_share() <= high, (
        f"{proxy.platform}: {proxy.failure_share():.2f} of {len(records)} calls failed"
    )
    checks = proxy.wait_checks()
    assert checks, f"{proxy.platform}: no answer asked for a wait"
    hurried = [check for check in checks if check.hurried]
    assert not hurried, f"{proxy.platform}: waits not kept: {hurried}"
    kept = [check for check in checks if check.gap is not None]
    assert kept, f"{proxy.platform}: no client came back after a wait, so none was checked"
