"""The store: one SQLAlchemy engine and session factory per app, and the database for
plain statements (core/database.py: the inbox's group commit, refusals).

SQLite (the embedded default) gets WAL, foreign keys, a busy timeout and
synchronous=FULL on every connection: the inbox and ledger must survive a
crash. PostgreSQL is selected by URL; the same code runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.database import Database
from core.driver import SQLITE_BUSY_TIMEOUT_MS, prepare_sqlite
from core.errors import ConfigError

if TYPE_CHECKING:
    from flask import Flask

EXTENSION_KEY = "constellate.store"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"store.url: cannot create the folder {folder}: {exc.strerror}"
            ) from None
    # hide_parameters: a failing statement's values (which may hold secrets) stay out of
    # error messages, and so out of logs and the inbox's last_error.
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
    )
    event.listen(engine, "connect", lambda connection, _record: prepare_sqlite(connection))
    return engine


def dialect_insert(session: Session, model: Any) -> Any:
    """An INSERT for ``model`` with ``on_conflict_do_nothing``, which only the dialects'
    own inserts have; the same code then runs on SQLite and PostgreSQL."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


class Store:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.database = Database(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error. Code inside may
        commit earlier too (a handler commits before each platform call)."""
        with self._sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.database.close()
        self.engine.dispose()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = Store(app.config["CONSTELLATE"]["store"]["url"])


def get_store(app: Flask | None = None) -> Store:
    if app is None:
        from flask import current_app  # here: a receiving process does without Flask

        app = current_app
    store: Store = app.extensions[EXTENSION_KEY]
    return store
