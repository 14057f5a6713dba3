"""The store's database for plain statements, through its driver alone (core/driver.py).

A process that only receives webhooks writes inbox rows and refusals with a few plain
statements (core/inbox_rows.py through the group committer, webhooks/incoming/refusals.py):
SQLAlchemy and its ORM would take a third of its memory and do nothing there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from core.driver import backend, connect
from core.group_commit import GroupCommitter


class Database:
    """The store's database for plain statements, one per store and process: its group
    committer of inbox rows, and one connection for the occasional other write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = backend(url)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._connection: Any = None
        self._committer: GroupCommitter | None = None

    @property
    def committer(self) -> GroupCommitter:
        """This process's group committer of inbox rows (core/group_commit.py)."""
        if self._committer is None:
            with self._lock:
                if self._committer is None:
                    self._committer = GroupCommitter(self.url)
        return self._committer

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor for a few statements, each committed by itself, one thread at a time.
        A connection that failed is closed and opened anew the next time."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's socket is not ours
                self._pid, self._connection = os.getpid(), None
            if self._connection is None:
                self._connection = connect(self.url)
            cursor = self._connection.cursor()
            try:
                yield cursor
            except BaseException:
                self._close_connection()
                raise
            finally:
                with suppress(Exception):
                    cursor.close()

    def close(self) -> None:
        """Close the connections (tests, shutdown); later writes open them again."""
        if self._committer is not None:
            self._committer.stop()
        with self._lock:
            self._close_connection()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with suppress(Exception):  # closing it is all that is left to do
                connection.close()
