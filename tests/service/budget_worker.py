"""A worker process for tests/service/test_forum_budget_processes.py:
`python -m tests.service.budget_worker STORE_URL FORUM_URL API_KEY EFFECTS START FACTOR ORIGIN`.

Its only handler asks the forum one thing (its /about.json) and then notes the event in
the EFFECTS file, so the test can see every event's effect and that none came twice. The
process's clock is the test's compressed one (the same in every process and the forum); the
deployment's budget (in the store) waits on that clock.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from community.handling import Handler, HandlerContext
from core.config import load_config
from core.events import Event
from core.models import InboxEvent
from core.store import Store
from sandbox.clocks import ScaledClock
from service.worker import Worker

KIND = "forum.post_created"


def main(store_url: str, forum_url: str, api_key: str, effects: Path, *clock: str) -> None:
    scaled = ScaledClock(datetime.fromisoformat(clock[0]), float(clock[1]), float(clock[2]))

    def handler(event: Event, context: HandlerContext) -> None:
        context.forum().ping()
        with effects.open("a") as out:  # one short line per write: appends do not interleave
            out.write(f"{event.event_id} {os.getpid()}\n")

    def handlers_for(kind: str) -> tuple[Handler, ...]:
        return (handler,) if kind == KIND else ()

    settings = load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "store": {"url": store_url},
            "wiki": {"url": "http://127.0.0.1:9", "username": "Bot", "password": "not-real"},
            "forum": {"url": forum_url, "api_username": "system", "api_key": api_key},
            # A short lease: waits for the budget past 15 s put the event back for later.
            "worker": {"embedded": False, "lease_seconds": 20},
        },
    )
    store = Store(store_url)
    worker = Worker(
        store,
        settings,
        clock=scaled,
        handlers_for=handlers_for,
    )
    while worker.run_once() or _unfinished(store):
        time.sleep(0.01)
    store.dispose()


def _unfinished(store: Store) -> int:
    """Events not yet done (waiting for the budget, or held by the other process)."""
    with store.session() as session:
        pending = select(func.count()).where(InboxEvent.state.in_(("pending", "claimed")))
        return int(session.scalar(pending) or 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), *sys.argv[5:])
