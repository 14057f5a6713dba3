"""Acceptance (issue 20): two worker processes spend from one forum budget. Together they
never pass it; a 429 one of them receives pauses the other; an event that waits for the
budget is neither lost nor handled twice.

Time is compressed (a minute of the forum's and the workers' clock passes in three real
seconds); the forum sandbox runs at Discourse's default limit, 60 admin requests a minute.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import select

from core.clock import using
from core.events import Event
from core.inbox import record
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from sandbox.clocks import ScaledClock
from sandbox.forum.server import ForumServer
from sandbox.forum.state import ApiCall
from tests.service.budget_worker import KIND

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
FACTOR = 20.0
EVENTS = 60
SHARE = 30  # the service's half of the forum's 60 a minute (the default budget_share)
OTHERS = 45  # what the site's other integrations spend just before the workers start
# A request's way from the budget to the forum, on the compressed clock: on a loaded
# machine a process may be held a few hundred milliseconds between its turn and its send.
TOLERANCE = timedelta(seconds=6)


def events(store: Store) -> None:
    with store.session() as session:
        for number in range(EVENTS):
            record(
                session,
                Event(
                    event_id=f"forum:post_created:{number}",
                    kind=KIND,
                    source="forum",
                    subject=f"post:{number}",
                    actor="alice",
                    occurred_at=T0,
                    delivery_id=None,
                    payload={"post": {"id": number}},
                ),
            )


def most_in_a_minute(calls: list[ApiCall]) -> int:
    times = sorted(call.at for call in calls)
    window = timedelta(seconds=60) - TOLERANCE
    return max(
        (sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times)),
        default=0,
    )


def test_two_worker_processes_share_the_budget_and_a_429s_pause(
    sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    clock = ScaledClock(T0, FACTOR)
    effects = tmp_path / "effects"
    with using(clock), ForumServer() as server:  # Discourse's default: 60 a minute
        assert server.forum is not None
        server.forum.clock = clock
        events(store)
        other = {"Api-Key": server.api_key, "Api-Username": "system"}
        for _ in range(OTHERS):
            assert requests.get(f"{server.url}/about.json", headers=other, timeout=10).ok
        started = clock()
        command = [
            sys.executable,
            "-m",
            "tests.service.budget_worker",
            sqlite_url,
            server.url,
            server.api_key,
            str(effects),
            *clock.arguments(),
        ]
        workers = [subprocess.Popen(command, cwd=ROOT) for _ in range(2)]
        for worker in workers:
            assert worker.wait(timeout=300) == 0  # a guard against a hung child
        log = list(server.forum.api_log)

    ours = [call for call in log if call.at >= started]
    # Together within the service's share of every minute.
    assert most_in_a_minute(ours) <= SHARE
    # The forum was full (its other integrations): it answered 429, and the pause it asked
    # for held both processes: none of their requests reached the forum before it ended.
    # (Its own requests may not wait for a 429 already in flight when the pause began.)
    refused = [call for call in ours if call.status == 429]
    assert refused
    minute = timedelta(seconds=60)
    for answer in refused:
        oldest = min(c.at for c in log if c.status != 429 and c.at > answer.at - minute)
        wait = timedelta(seconds=math.ceil((oldest + minute - answer.at).total_seconds()))
        paused = [c for c in ours if answer.at + TOLERANCE < c.at < answer.at + wait - TOLERANCE]
        assert paused == [], (answer, wait)
    assert len(refused) <= 2 * len({round(r.at.timestamp() / 60) for r in refused})
    # Every event's effect exactly once, every event done, by both processes.
    lines = effects.read_text().split()
    done = Counter(lines[0::2])
    assert sorted(done) == sorted(f"forum:post_created:{n}" for n in range(EVENTS))
    assert set(done.values()) == {1}
    assert len(set(lines[1::2])) == 2
    with store.session() as session:
        states = Counter(session.scalars(select(InboxEvent.state)))
        deferred = session.scalars(select(InboxEvent.attempts)).all()
    assert states == {"done": EVENTS}
    assert max(deferred) == 1  # waiting for the budget never counted as an attempt
    store.dispose()
