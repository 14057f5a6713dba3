"""The worker process of tests/core/test_store_crash.py: its ``main`` runs in a forked
child (or by hand: `python -m tests.core.crash_processing URL FOLDER THREADS LEASE [PAUSE]`).

Given the SQLite store URL, a folder for markers, the number of worker threads, the
lease in seconds and optionally an entry count to pause at, it runs that many real
workers against the store until no inbox event is pending or claimed, then returns;
the test kills it long before that, again and again. ``ready-<pid>`` marks that its
workers have finished their first event.

Each event's handler writes real rows in the worker's transaction: the post's activity
row, ``payload["parts"]`` credit-ledger entries (which also add to ``credit_totals``)
and a tally that counts how often the event's work committed (a deliberately
non-idempotent effect: 2 would mean the work was done twice).

The connections checkpoint the WAL often and keep a tiny page cache, so a kill can land
inside a checkpoint, and a large transaction spills uncommitted pages into the WAL
before it commits. With a pause count, the first event of this process that has more
entries than that stops after writing that many, marks ``paused-<pid>`` with its event
id and waits to be killed there.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text

from community.activity import record_post
from community.credits.ledger import Contribution, credit
from community.handling import Handler, HandlerContext
from core.config import DEFAULTS, Settings
from core.events import Event
from core.models import SyncCursor
from core.store import Store
from core.times import parse_time
from service.worker import Worker

KIND = "forum.post_created"
RULE = "crash-test"
CHECKPOINT_PAGES = 32  # the default is 1000: checkpoint far more often than in service
CACHE_PAGES = 16  # the default is about 500: spill big transactions to the WAL early
IDLE_SECONDS = 0.02  # a killed worker's lease runs out soon; look again often
TALLY_PREFIX = "tally:"


def tally_name(event_id: str) -> str:
    return TALLY_PREFIX + event_id


def entry_ref(post_id: int, part: int) -> str:
    return f"{post_id}:{part}"


class Pause:
    """Stops the first event of this process that reaches entry ``at``, for good."""

    def __init__(self, folder: Path, at: int | None) -> None:
        self.folder = folder
        self.at = at
        self._lock = threading.Lock()
        self._taken = False

    def due(self, written: int, parts: int) -> bool:
        if self.at is None or written != self.at or parts <= self.at:
            return False
        with self._lock:
            taken, self._taken = self._taken, True
        return not taken

    def wait_here(self, event_id: str) -> None:
        marker = self.folder / f"paused-{os.getpid()}"
        marker.with_suffix(".tmp").write_text(event_id)
        marker.with_suffix(".tmp").replace(marker)  # the test never reads half a name
        threading.Event().wait()


def make_handler(pause: Pause) -> Handler:
    def handle(event: Event, context: HandlerContext) -> None:
        session = context.session
        post: dict[str, Any] = event.payload["post"]
        record_post(event, context)
        parts = int(event.payload["parts"])
        for part in range(parts):
            if pause.due(part, parts):
                session.flush()
                pause.wait_here(event.event_id)
            credit(
                session,
                Contribution(
                    platform="forum",
                    account=str(post["username"]),
                    kind=str(event.payload["credit_kind"]),
                    object=f"post:{post['id']}",
                    ref=entry_ref(int(post["id"]), part),
                    weight=float(event.payload["weight"]),
                    occurred_at=parse_time(post["created_at"]) or event.occurred_at,
                    rule=RULE,
                ),
            )
        tally = session.get(SyncCursor, tally_name(event.event_id))
        if tally is None:
            session.add(SyncCursor(name=tally_name(event.event_id), value="1"))
        else:
            tally.value = str(int(tally.value) + 1)

    return handle


def settings_for(url: str, lease_seconds: float) -> Settings:
    """The defaults, with leases shorter than the configuration allows (at least 5 s), so
    a killed worker's events are taken over within a second or two."""
    settings = copy.deepcopy(DEFAULTS)
    settings["store"]["url"] = url
    # Many lapsed leases are expected here; giving up is not what is tested.
    settings["worker"].update(embedded=False, lease_seconds=lease_seconds, max_attempts=1000)
    settings["automations"]["builtins"] = []
    return settings


def _busy_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA cache_size={CACHE_PAGES}")
    cursor.close()


def unfinished(store: Store) -> int:
    with store.engine.connect() as connection:
        query = text("SELECT count(*) FROM inbox_events WHERE state IN ('pending', 'claimed')")
        return int(connection.execute(query).scalar_one())


def main(url: str, folder: Path, threads: int, lease_seconds: float, pause_at: int | None) -> None:
    settings = settings_for(url, lease_seconds)
    store = Store(url)
    sqlalchemy_event.listen(store.engine, "connect", _busy_pragmas)
    handler = make_handler(Pause(folder, pause_at))

    def handlers_for(kind: str) -> tuple[Handler, ...]:
        return (handler,) if kind == KIND else ()

    stop = threading.Event()
    workers = [
        Worker(
            store,
            settings,
            worker_id=f"crash-{os.getpid()}-{number}",
            sleep=lambda _seconds: time.sleep(IDLE_SECONDS),
            handlers_for=handlers_for,
        )
        for number in range(threads)
    ]
    running = [threading.Thread(target=worker.run, args=(stop,)) for worker in workers]
    for thread in running:
        thread.start()
    # Ready once an event is finished here: the first one of each process is slow (caches
    # warm up), and the test's kills should land in steady work, not before it.
    initial = unfinished(store)
    while (left := unfinished(store)) and left == initial:
        time.sleep(0.01)
    (folder / f"ready-{os.getpid()}").touch()
    while unfinished(store):
        time.sleep(0.05)
    stop.set()
    for thread in running:
        thread.join()
    store.dispose()


if __name__ == "__main__":
    main(
        sys.argv[1],
        Path(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
        int(sys.argv[5]) if len(sys.argv) > 5 else None,
    )
