"""Group commit of inbox rows: the requests a process is handling share one transaction.

A durable commit (SQLite's fsync, a PostgreSQL WAL flush) costs far more than the insert
before it, and a process handles several requests at once (gunicorn's threads). The
request threads take turns to lead: one that finds nobody committing commits every row
waiting at that moment (its own among them) in one transaction; the others wait, and
when the leader is done the first of those still waiting leads the next batch. No thread
of its own and no hand-off: a lone request commits its row itself, a busy process
commits many rows per flush, and the batch gathers while the last one commits.

With SQLite, the processes' leaders take turns through a lock file beside the database
(``<database>-inbox.lock``): SQLite's own busy handler sleeps for milliseconds before it
tries again, while a waiter on the file lock is woken the moment the other process
commits, and finds a larger batch waiting.

A request learns its outcome only after the commit returned: nothing is acknowledged
before it is durable. A failed batch fails every request of it (``CommitFailed``), so
each is answered with an error and its sender delivers it again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any

from core import inbox_rows
from core.driver import backend, connect, sqlite_file
from core.errors import describe

log = logging.getLogger("constellate.group_commit")

# Rows per transaction at most: bounds the time a batch holds SQLite's write lock.
MAX_BATCH = 64
# A request waits at most this long for its commit before it is answered with an error
# (its row may still commit: the sender's redelivery is then a duplicate, kept once).
WAIT_SECONDS = 30.0


class CommitFailed(Exception):
    """The transaction holding the row did not commit (or took too long to say)."""


class _Pending:
    __slots__ = ("done", "error", "lead", "row", "stored", "wake")

    def __init__(self, row: list[Any]) -> None:
        self.row = row
        self.wake = threading.Event()  # set when done, or when it is this one's turn to lead
        self.done = False
        self.lead = False
        self.stored = False
        self.error: BaseException | None = None


class GroupCommitter:
    """One per store and process (``Database.committer``): ``record(row)`` returns once
    the row's batch committed."""

    def __init__(self, url: str, *, max_batch: int = MAX_BATCH) -> None:
        self.url = url
        self.backend = backend(url)
        self.max_batch = max_batch
        self._mutex = threading.Lock()
        self._waiting: list[_Pending] = []
        self._leading = False
        self._pid = os.getpid()
        self._lock_path = _lock_path(url)
        self._lock_fd: int | None = None  # opened once per process, by the first leader
        self._connection: Any = None  # the DB-API connection leaders commit through

    def record(self, row: list[Any], *, wait_seconds: float = WAIT_SECONDS) -> bool:
        """Insert ``row`` (``inbox_rows.row``, made before: a leader does no more than it
        must while the others, and on SQLite other processes, wait for it) durably; True
        if stored, False if the inbox already held the event. Raises CommitFailed when its
        batch did not commit."""
        me = _Pending(row)
        with self._mutex:
            self._forget_parent()
            self._waiting.append(me)
            if not self._leading:
                self._leading = me.lead = True
        if not me.lead and not me.wake.wait(wait_seconds):
            with self._mutex:
                if not me.done and not me.lead:  # still waiting: give up its place
                    if me in self._waiting:
                        self._waiting.remove(me)
                    raise CommitFailed(f"no commit within {wait_seconds:g} s")
        if not me.done:  # its turn to lead: its row is the first waiting
            self._lead()
        if me.error is not None:
            raise CommitFailed(describe(me.error)) from me.error
        return me.stored

    def stop(self) -> None:
        """Close the connection and the lock file (tests, shutdown); a later ``record``
        opens them again."""
        with self._mutex:
            self._drop_connection()
            if self._lock_fd is not None and self._pid == os.getpid():
                os.close(self._lock_fd)
            self._lock_fd = None

    def _forget_parent(self) -> None:
        # A forked child inherits the parent's connection (its socket) and lock
        # descriptor (the parent's lock), and maybe a parent's thread mid-batch: its own.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._connection, self._lock_fd = None, None
            self._waiting, self._leading = [], False

    def _lead(self) -> None:
        batch: list[_Pending] = []
        try:
            # The batch is taken once the turn is ours: on SQLite, rows arriving while
            # another process commits join it rather than wait for a turn of their own.
            with self._turn():
                batch = self._take()
                if self._connection is None:
                    # Kept: no connecting per batch; one that failed is dropped, made anew.
                    # It commits each statement itself: the batch's one INSERT is its own
                    # transaction, with no BEGIN and COMMIT around it (on PostgreSQL,
                    # round trips): one call, one durable flush.
                    self._connection = connect(self.url)
                stored = inbox_rows.record_rows(
                    self._connection, self.backend, [p.row for p in batch]
                )
        except BaseException as exc:  # every request of the batch gets an error answer
            self._drop_connection()
            batch = batch or self._take()  # the turn itself failed: those waiting then
            log.error("group commit of %d inbox rows failed: %s", len(batch), describe(exc))
            self._settle(batch, [False] * len(batch), exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self._settle(batch, stored, None)
        finally:  # the lead passes on whatever happened
            with self._mutex:
                if self._waiting:
                    following = self._waiting[0]
                    following.lead = True
                    following.wake.set()
                else:
                    self._leading = False

    def _take(self) -> list[_Pending]:
        with self._mutex:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
        return batch

    @staticmethod
    def _settle(batch: list[_Pending], stored: list[bool], error: BaseException | None) -> None:
        for pending, was_stored in zip(batch, stored, strict=True):
            pending.stored, pending.error, pending.done = was_stored, error, True
            pending.wake.set()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with suppress(Exception):  # dropping it is all that is left to do
                connection.close()

    def _turn(self) -> AbstractContextManager[object]:
        """This process's turn to write, among the processes sharing a SQLite file."""
        if self._lock_path is None:
            return nullcontext()
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return _file_lock(self._lock_fd)


def _lock_path(url: str) -> str | None:
    file = sqlite_file(url) if backend(url) == "sqlite" else None
    return None if file is None else f"{file}-inbox.lock"


@contextmanager
def _file_lock(fd: int) -> Iterator[None]:
    fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
