"""Group commit of inbox rows: the requests a process is handling share one transaction.

A durable commit (SQLite's fsync, a PostgreSQL WAL flush) costs far more than the insert
before it, and a process handles several requests at once (gunicorn's threads). Each
request thread hands its row to the process's committer thread and waits; the committer
inserts every row waiting at that moment in one transaction, commits once, then tells
each request whether its row was stored. While it commits, the next batch gathers, so a
lone request waits for no timer and a busy process commits many rows per flush.

With SQLite, the processes' committers take turns through a lock file beside the
database (``<database>-inbox.lock``): SQLite's own busy handler sleeps for milliseconds
before it tries again, while a waiter on the file lock is woken the moment the other
process commits, and finds a larger batch waiting.

A request learns its outcome only after the commit returned: nothing is acknowledged
before it is durable. A failed batch fails every request of it (``CommitFailed``), so
each is answered with an error and its sender delivers it again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from core import inbox

log = logging.getLogger("constellate.group_commit")

# Rows per transaction at most: bounds the time a batch holds SQLite's write lock.
MAX_BATCH = 64
# A request waits at most this long for its commit before it is answered with an error
# (its row may still commit: the sender's redelivery is then a duplicate, kept once).
WAIT_SECONDS = 30.0


class CommitFailed(Exception):
    """The transaction holding the row did not commit (or took too long to say)."""


@dataclass
class _Pending:
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    stored: bool = False
    error: BaseException | None = None


class GroupCommitter:
    """One per store and process: ``record(row)`` blocks until the row's batch committed."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock_path = _lock_path(engine)
        self._lock_fd: int | None = None  # opened once per process, by the committer thread
        self._connection: Connection | None = None  # the committer thread's own

    def record(self, row: dict[str, Any], *, wait_seconds: float = WAIT_SECONDS) -> bool:
        """Insert ``row`` (``inbox.row_values``) durably; True if stored, False if the inbox
        already held the event. Raises CommitFailed when its batch did not commit."""
        pending = _Pending(row)
        self._ensure_thread()
        self._queue.put(pending)
        if not pending.done.wait(wait_seconds):
            raise CommitFailed(f"no commit within {wait_seconds:g} s")
        if pending.error is not None:
            raise CommitFailed(inbox.describe(pending.error)) from pending.error
        return pending.stored

    def stop(self) -> None:
        """End the committer thread after the rows already handed over (tests, shutdown)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and self._pid == os.getpid():
            self._queue.put(None)
            thread.join()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _ensure_thread(self) -> None:
        # A forked child inherits the object but not the thread: start its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                if self._pid != os.getpid():
                    # An inherited descriptor shares the parent's lock, an inherited
                    # connection its socket: make our own.
                    self._lock_fd, self._connection = None, None
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="inbox-group-commit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        source = self._queue
        while True:
            first = source.get()
            if first is None:
                self._drop_connection()
                return
            batch = [first]
            # Whatever arrived while the last batch committed joins this one; no timer.
            while len(batch) < self.max_batch:
                try:
                    more = source.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    source.put(None)  # stop after this batch
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            # The committer keeps its connection: no pool checkout (nor PostgreSQL's
            # pre-ping round trip) per batch. One that failed is dropped, made anew next.
            if self._connection is None:
                self._connection = self.engine.connect()
            with self._turn(), self._connection.begin():
                stored = inbox.record_rows(self._connection, [p.row for p in batch])
        except Exception as exc:  # every request of the batch gets an error answer
            self._drop_connection()
            log.error("group commit of %d inbox rows failed: %s", len(batch), inbox.describe(exc))
            for pending in batch:
                pending.error = exc
                pending.done.set()
            return
        for pending, was_stored in zip(batch, stored, strict=True):
            pending.stored = was_stored
            pending.done.set()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # not back to the pool: it may be broken
                connection.close()
            except Exception:  # noqa: S110 - dropping it is all that is left to do
                pass

    def _turn(self) -> AbstractContextManager[object]:
        """This process's turn to write, among the processes sharing a SQLite file."""
        if self._lock_path is None:
            return nullcontext()
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return _file_lock(self._lock_fd)


def _lock_path(engine: Engine) -> str | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return f"{url.database}-inbox.lock"


@contextmanager
def _file_lock(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
