"""The store's database driver (sqlite3, psycopg) used directly, without SQLAlchemy:
its URL read, a connection made, parameter marks and times as the driver takes them.

The store's engine (core/store.py) opens its SQLite connections with the same settings
(``prepare_sqlite``) and writes times as ``driver_time`` does, so rows read alike
whichever path wrote them (core/database.py's plain statements, or the ORM).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SQLITE_BUSY_TIMEOUT_MS = 10_000
# SQLAlchemy's storage format of a time on SQLite (UTC, no zone), read by core/models.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def backend(url: str) -> str:
    """``sqlite`` or ``postgresql``: an SQLAlchemy URL's scheme without its driver."""
    return url.split(":", 1)[0].split("+", 1)[0]


def sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///`` URL names (``sqlite:////abs/path`` for an absolute one),
    or None for a database in memory."""
    path = urlsplit(url).path.removeprefix("/")
    return None if path in ("", ":memory:") else path


def without_password(url: str) -> str:
    """The URL with its password masked: an address to name things by, or to show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def prepare_sqlite(connection: Any) -> None:
    """Every SQLite connection of the store: WAL, foreign keys, a busy timeout, and
    synchronous=FULL (the inbox and the ledger must survive a crash)."""
    cursor = connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "synchronous=FULL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def connect(url: str) -> Any:
    """A DB-API connection to the store's database that commits each statement itself
    (autocommit), usable from any thread (one at a time)."""
    if backend(url) == "postgresql":
        import psycopg  # here: a process on SQLite never loads it

        # libpq reads the same URL once the driver is out of the scheme.
        libpq_url = urlunsplit(urlsplit(url)._replace(scheme="postgresql"))
        return psycopg.connect(libpq_url, autocommit=True)
    connection = sqlite3.connect(
        sqlite_file(url) or ":memory:",
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    prepare_sqlite(connection)
    return connection


def mark(backend_name: str) -> str:
    """The driver's parameter mark: psycopg's ``%s``, sqlite3's ``?``."""
    return "%s" if backend_name == "postgresql" else "?"


def driver_time(moment: datetime, backend_name: str) -> Any:
    """A time as the driver takes it for a column of ``core.models.UTCDateTime``: on
    SQLite the text SQLAlchemy writes (so rows compare and read alike), else the time."""
    moment = moment.astimezone(UTC)
    return moment if backend_name == "postgresql" else moment.strftime(SQLITE_TIME)
