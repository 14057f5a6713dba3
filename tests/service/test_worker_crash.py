"""Acceptance: a worker process killed mid-event loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

from core.events import Event
from core.inbox import LAPSED, record
from core.migrate import upgrade
from core.models import InboxEvent, SyncCursor
from core.store import Store
from tests.service.crash_worker import KIND

# The store fixtures: a SQLite file, and a fresh PostgreSQL database per test.

ROOT = Path(__file__).resolve().parents[2]
EVENT_ID = "forum:post_created:99"


def start_worker(url: str, folder: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.service.crash_worker", url, str(folder), mode], cwd=ROOT
    )


def wait_until_in_handler(process: subprocess.Popen[bytes], marker: Path) -> None:
    deadline = time.monotonic() + 120  # a guard against a hung child, not a measurement
    while not marker.exists():
        assert process.poll() is None, "the worker exited before reaching its handler"
        assert time.monotonic() < deadline, "the worker never reached its handler"
        time.sleep(0.02)


def test_a_worker_killed_mid_event_is_finished_by_the_next_exactly_once(
    store_url: str, tmp_path: Path
) -> None:
    upgrade(store_url)
    store = Store(store_url)
    with store.session() as session:
        record(
            session,
            Event(
                event_id=EVENT_ID,
                kind=KIND,
                source="forum",
                subject="post:99",
                actor="alice",
                occurred_at=datetime(2026, 11, 21, tzinfo=UTC),
                delivery_id=None,
                payload={"post": {"id": 99}},
            ),
        )

    doomed = start_worker(store_url, tmp_path, "block")
    wait_until_in_handler(doomed, tmp_path / "in-handler")
    os.kill(doomed.pid, signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL

    with store.session() as session:
        row = session.scalars(select(InboxEvent)).one()
        assert (row.state, row.claimed_by, row.attempts) == ("claimed", "crash-block", 1)
        assert session.scalars(select(SyncCursor)).all() == []  # its write never committed

    subprocess.run(
        [sys.executable, "-m", "tests.service.crash_worker", store_url, str(tmp_path), "finish"],
        cwd=ROOT,
        check=True,
    )

    with store.session() as session:
        row = session.scalars(select(InboxEvent)).one()
        assert (row.state, row.attempts, row.last_error) == ("done", 2, LAPSED)
        effects = session.scalars(select(SyncCursor)).all()
        assert [effect.name for effect in effects] == [f"effect:{EVENT_ID}"]
        assert effects[0].value != str(doomed.pid)  # written by the second worker
    store.dispose()

    if store_url.startswith("sqlite"):
        engine = create_engine(store_url)
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        engine.dispose()
