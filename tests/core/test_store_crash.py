"""Acceptance (crash safety): worker processes killed at random points during processing
leave a SQLite store that passes ``PRAGMA integrity_check`` and resumes correctly.

The child program (tests/core/crash_processing.py) runs several real workers whose
handler writes activity, credit-ledger entries (and their totals) and a tally in the
worker's transaction. Each kill is followed by a look with plain sqlite3: the file is
sound, and every event's effects are all there when it is done and absent otherwise.
The seed of each test is printed in every assertion message; set ``CRASH_SEED`` to try
another.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import struct
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from multiprocessing.context import ForkServerProcess
from pathlib import Path

import pytest

from core.events import Event
from core.inbox import LAPSED, record
from core.migrate import upgrade
from core.store import Store
from tests.core import crash_processing
from tests.core.crash_processing import KIND, TALLY_PREFIX

USERS = ("ana", "bo", "chidi", "dara", "eun")
WEIGHTS = (0.5, 1.0, 1.5, 2.25)  # exact in binary, so sums in any order are equal
CREDIT_KINDS = ("forum_reply", "forum_topic")
GUARD_SECONDS = 120  # against a hung child, not a measurement


def seed_for(default: int) -> int:
    return int(os.environ.get("CRASH_SEED", default))


def record_posts(url: str, parts: Mapping[int, int]) -> None:
    """One pending post event per post id; ``parts`` is how many ledger entries each makes."""
    upgrade(url)
    store = Store(url)
    with store.session() as session:
        for post_id, count in parts.items():
            at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=post_id)
            user = USERS[post_id % len(USERS)]
            post = {
                "id": post_id,
                "topic_id": 1 + post_id % 7,
                "username": user,
                "post_number": post_id,
                "created_at": at.isoformat(),
            }
            payload = {
                "post": post,
                "parts": count,
                "credit_kind": CREDIT_KINDS[post_id % len(CREDIT_KINDS)],
                "weight": WEIGHTS[post_id % len(WEIGHTS)],
            }
            event = Event(
                event_id=f"forum:post_created:{post_id}",
                kind=KIND,
                source="forum",
                subject=f"post:{post_id}",
                actor=user,
                occurred_at=at,
                delivery_id=None,
                payload=payload,
            )
            assert record(session, event)
    store.dispose()


def start_child(
    url: str, folder: Path, threads: int, lease: float, pause_at: int | None = None
) -> ForkServerProcess:
    """A worker process running tests/core/crash_processing.py's ``main``. Children fork
    from a server that imported everything once, so each restart costs a fork, not an
    interpreter start and a second of imports."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.core.crash_processing"])
    child = context.Process(
        target=crash_processing.main, args=(url, folder, threads, lease, pause_at)
    )
    child.start()
    return child


def wait_for(child: ForkServerProcess, marker: Path) -> None:
    deadline = time.monotonic() + GUARD_SECONDS
    while not marker.exists():
        assert child.is_alive(), f"the child exited ({child.exitcode}) before {marker.name}"
        assert time.monotonic() < deadline, f"the child never wrote {marker.name}"
        time.sleep(0.005)


def kill(child: ForkServerProcess) -> None:
    child.kill()
    child.join()
    assert child.exitcode == -signal.SIGKILL, f"the child ended by itself ({child.exitcode})"


def finish(url: str, folder: Path, threads: int, lease: float) -> None:
    """A last child, left alone, processes everything that is left and exits."""
    child = start_child(url, folder, threads, lease)
    child.join(timeout=GUARD_SECONDS)
    if child.is_alive():
        kill(child)
    assert child.exitcode == 0, f"the finishing child failed ({child.exitcode})"


def db_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def read_only(path: Path) -> sqlite3.Connection:
    """Plain sqlite3, as any reader after a crash: it rebuilds the WAL index but neither
    writes the database nor checkpoints it, so the next worker finds the WAL as left."""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def inspect(path: Path, parts: Mapping[int, int], seed: int) -> dict[str, int]:
    """Assert the file is sound and every event all-or-nothing; return the claimed events
    (event id to attempts) that a killed worker was holding."""
    connection = read_only(path)
    try:
        said = f"(seed {seed})"
        integrity = connection.execute("PRAGMA integrity_check").fetchall()
        assert integrity == [("ok",)], f"integrity_check {integrity} {said}"
        broken = connection.execute("PRAGMA foreign_key_check").fetchall()
        assert broken == [], f"foreign_key_check {broken} {said}"
        events = connection.execute(
            "SELECT e.event_id, e.subject, e.state, e.attempts, t.value FROM inbox_events e"
            " LEFT JOIN sync_cursors t ON t.name = ? || e.event_id",
            (TALLY_PREFIX,),
        ).fetchall()
        assert len(events) == len(parts), f"inbox rows lost or added {said}"
        entries = dict(
            connection.execute("SELECT object, count(*) FROM credit_ledger GROUP BY object")
        )
        activity = {row[0] for row in connection.execute("SELECT post_id FROM forum_post_activity")}
        claimed = {}
        for event_id, subject, state, attempts, tally in events:
            post_id = int(subject.removeprefix("post:"))
            done = state == "done"
            assert state in ("pending", "claimed", "done"), f"{subject} is {state} {said}"
            # The handler's rows commit with the event's completion, or not at all.
            expected = parts[post_id] if done else 0
            assert entries.get(subject, 0) == expected, f"{subject} ({state}) entries {said}"
            assert (post_id in activity) == done, f"{subject} ({state}) activity {said}"
            assert tally == ("1" if done else None), f"{subject} ({state}) tally {tally} {said}"
            if state == "claimed":
                claimed[event_id] = attempts
        assert totals(connection) == ledger_sums(connection), f"credit_totals drifted {said}"
        return claimed
    finally:
        connection.close()


def totals(connection: sqlite3.Connection) -> dict[tuple[str, str, str], tuple[float, int, int]]:
    rows = connection.execute(
        "SELECT a.platform, a.username, t.kind, t.points, t.entries, t.cancelled"
        " FROM credit_totals t JOIN accounts a ON a.id = t.account_id"
    )
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def ledger_sums(
    connection: sqlite3.Connection,
) -> dict[tuple[str, str, str], tuple[float, int, int]]:
    rows = connection.execute(
        "SELECT platform, account, kind, sum(weight), count(*), 0"
        " FROM credit_ledger GROUP BY platform, account, kind"
    )
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def assert_finished(path: Path, parts: Mapping[int, int], held: dict[str, int], seed: int) -> None:
    """Everything done exactly once, and each killed claim counted as a lapsed attempt."""
    said = f"(seed {seed})"
    assert inspect(path, parts, seed) == {}, f"events left claimed {said}"
    connection = read_only(path)
    try:
        rows = connection.execute("SELECT event_id, state, attempts, last_error FROM inbox_events")
        for event_id, state, attempts, last_error in rows:
            assert state == "done", f"{event_id} is {state} {said}"
            # The only failure here is a lapsed lease; every attempt after the first is one.
            assert last_error in (None, LAPSED), f"{event_id}: {last_error} {said}"
            assert (attempts > 1) == (last_error == LAPSED), f"{event_id}: {attempts} {said}"
            if event_id in held:  # claimed when its worker was killed: taken over since
                assert attempts > held[event_id], f"{event_id}: {attempts} attempts {said}"
    finally:
        connection.close()


@pytest.mark.timeout(240)
def test_workers_killed_at_random_moments_leave_a_sound_store_that_finishes_exactly_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    seed = seed_for(20300101)
    rng = random.Random(seed)
    parts = {post_id: 1 + post_id % 3 for post_id in range(1, 201)}
    record_posts(sqlite_url, parts)
    path, kills_in_flight = db_path(sqlite_url), 0
    held: dict[str, int] = {}

    for _ in range(rng.randint(5, 8)):
        child = start_child(sqlite_url, tmp_path, threads=4, lease=1)
        wait_for(child, tmp_path / f"ready-{child.pid}")
        time.sleep(rng.uniform(0.02, 0.4))
        kill(child)
        claimed = inspect(path, parts, seed)
        kills_in_flight += bool(claimed)
        held.update(claimed)  # attempts only grow

    assert kills_in_flight, f"no kill caught a worker holding an event (seed {seed})"
    finish(sqlite_url, tmp_path, threads=4, lease=1)
    assert_finished(path, parts, held, seed)


def uncommitted_tail(wal: Path) -> bool:
    """Whether the WAL's newest frames belong to a transaction that has not committed:
    frames of the current generation share the header's salts, and a commit frame
    records the database size (0 in every other frame)."""
    data = wal.read_bytes()
    if len(data) < 32:
        return False
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    last_commit_size, offset = None, 32
    while offset + 24 + page_size <= len(data) and data[offset + 8 : offset + 16] == salts:
        last_commit_size = struct.unpack(">I", data[offset + 4 : offset + 8])[0]
        offset += 24 + page_size
    return last_commit_size == 0


@pytest.mark.timeout(240)
def test_a_worker_killed_inside_a_big_spilled_transaction_leaves_none_of_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    seed = seed_for(20300202)
    rng = random.Random(seed)
    size = 100
    parts = {post_id: size for post_id in range(1, 9)}
    record_posts(sqlite_url, parts)
    path = db_path(sqlite_url)
    held: dict[str, int] = {}

    for _ in range(3):
        pause_at = rng.randint(size // 3, size - 1)
        child = start_child(sqlite_url, tmp_path, threads=2, lease=5, pause_at=pause_at)
        marker = tmp_path / f"paused-{child.pid}"
        wait_for(child, marker)
        # The paused transaction holds the write lock with pages already in the WAL.
        assert uncommitted_tail(path.with_name(path.name + "-wal")), f"no spill (seed {seed})"
        kill(child)
        claimed = inspect(path, parts, seed)  # the paused event's flushed rows are gone
        paused = marker.read_text()
        assert paused in claimed, f"the paused event {paused} is not claimed (seed {seed})"
        held.update(claimed)

    finish(sqlite_url, tmp_path, threads=2, lease=5)
    assert_finished(path, parts, held, seed)
