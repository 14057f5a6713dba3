"""Where the forum budget is kept so that every process sees one: the store's tables, or
Redis when the queue is Redis (processes on several machines, one Redis).

Each ledger gives one process at a time a turn: in the store, the turn begins by writing
the one state row, which holds SQLite's write lock (of a file of its own beside the
store's) or PostgreSQL's row lock until the turn commits; in Redis, a lock key. Times are
seconds since the epoch, as the product's clock (``core.clock``) tells them, never the
database's or Redis's own.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

import redis
from flask import Flask, g
from sqlalchemy import Connection, Engine, Float, Integer, String, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CreateIndex, CreateTable

from core.config import Settings
from core.forum_budget import (
    APP_KEY,
    Budget,
    Ledger,
    MemoryLedger,
    limits_of,
    reset_priority,
    set_priority,
)
from core.models import Base
from core.store import Store, get_store, make_engine
from core.wakeup import queue_name


class ForumBudgetSpend(Base):
    """One forum request spent, at ``at``; rows older than the window are deleted."""

    __tablename__ = "forum_budget_spends"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    priority: Mapped[str] = mapped_column(String(16))


class ForumBudgetWaiter(Base):
    """A request waiting for a place; it asks again before ``until`` or has died."""

    __tablename__ = "forum_budget_waiters"

    waiter: Mapped[str] = mapped_column(String(32), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    until: Mapped[float] = mapped_column(Float)


class ForumBudgetState(Base):
    """One row: the shared pause after a 429, the 429s counted, and the turns taken
    (writing it is what makes a turn exclusive)."""

    __tablename__ = "forum_budget_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    turns: Mapped[int] = mapped_column(Integer, default=0)


SPENDS, WAITERS, STATE = ForumBudgetSpend, ForumBudgetWaiter, ForumBudgetState
STATE_ROW = 1


class SqlLedger:
    """On PostgreSQL, the store's own tables. On SQLite, the same tables in a file beside
    the store's: SQLite has one write lock per file, and a turn must neither wait behind
    nor block a command or a request that holds a write transaction while it asks the
    forum something."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """Made at the first turn: a service that never asks the forum makes no file."""
        with self._lock:
            if self._engine is None:
                self._engine = self._open()
            return self._engine

    def _open(self) -> Engine:
        url = self.store.engine.url
        if url.get_backend_name() != "sqlite":
            return self.store.engine
        beside = url.set(database=f"{url.database}.forum-budget")
        engine = make_engine(beside.render_as_string(hide_password=False))
        # IF NOT EXISTS: several processes may open the file at once, and create_all's
        # look-then-create would let the second fail with "already exists".
        with engine.begin() as connection:
            for model in (SPENDS, WAITERS, STATE):
                table = Base.metadata.tables[model.__tablename__]
                connection.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    connection.execute(CreateIndex(index, if_not_exists=True))
        return engine

    @contextmanager
    def turn(self) -> Iterator[SqlTurn]:
        with self.engine.begin() as connection:
            take = update(STATE).where(STATE.id == STATE_ROW).values(turns=STATE.turns + 1)
            if connection.execute(take).rowcount == 0:  # the migration writes it; restored?
                connection.execute(
                    insert(STATE).values(id=STATE_ROW, paused_until=0.0, rate_limited=0, turns=1)
                )
            yield SqlTurn(connection)


class SqlTurn:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def window(self, since: float) -> list[tuple[float, str]]:
        self.connection.execute(delete(SPENDS).where(SPENDS.at <= since))
        rows = self.connection.execute(select(SPENDS.at, SPENDS.priority).order_by(SPENDS.at))
        return [(at, priority) for at, priority in rows]

    def spend(self, at: float, priority: str) -> None:
        self.connection.execute(insert(SPENDS).values(at=at, priority=priority))

    def waiting(self, now: float) -> dict[str, int]:
        self.connection.execute(delete(WAITERS).where(WAITERS.until < now))
        rows = self.connection.execute(select(WAITERS.waiter, WAITERS.rank))
        return {waiter: rank for waiter, rank in rows}

    def wait(self, waiter: str, rank: int, until: float) -> None:
        again = update(WAITERS).where(WAITERS.waiter == waiter).values(until=until)
        if self.connection.execute(again).rowcount == 0:
            self.connection.execute(insert(WAITERS).values(waiter=waiter, rank=rank, until=until))

    def done(self, waiter: str) -> None:
        self.connection.execute(delete(WAITERS).where(WAITERS.waiter == waiter))

    def paused_until(self) -> float:
        return float(self._state().paused_until)

    def pause(self, until: float) -> None:
        self.connection.execute(
            update(STATE)
            .where(STATE.id == STATE_ROW)
            .values(paused_until=until, rate_limited=STATE.rate_limited + 1)
        )

    def rate_limited(self) -> int:
        return int(self._state().rate_limited)

    def _state(self) -> Any:
        return self.connection.execute(select(STATE).where(STATE.id == STATE_ROW)).one()


class RedisLedger:
    """The same ledger in Redis, under keys named after the store (as the queue is)."""

    LOCK_SECONDS = 10  # a turn is a few round trips; a dead holder's lock lapses after this

    def __init__(self, url: str, name: str) -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = f"{name}:forum-budget:"

    @contextmanager
    def turn(self) -> Iterator[RedisTurn]:
        lock = self.redis.lock(self.prefix + "lock", timeout=self.LOCK_SECONDS, blocking_timeout=30)
        with lock:
            yield RedisTurn(self.redis, self.prefix)


class RedisTurn:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.spends = prefix + "spends"
        self.waiters = prefix + "waiters"
        self.state = prefix + "state"

    def window(self, since: float) -> list[tuple[float, str]]:
        self.redis.zremrangebyscore(self.spends, "-inf", since)
        members: list[tuple[str, float]] = self.redis.zrange(  # type: ignore[assignment]
            self.spends, 0, -1, withscores=True
        )
        return [(float(at), member.split(":", 1)[1]) for member, at in members]

    def spend(self, at: float, priority: str) -> None:
        self.redis.zadd(self.spends, {f"{uuid.uuid4().hex}:{priority}": at})

    def waiting(self, now: float) -> dict[str, int]:
        found: dict[str, int] = {}
        waiters: dict[str, str] = self.redis.hgetall(self.waiters)  # type: ignore[assignment]
        for waiter, value in waiters.items():
            rank, until = value.split(":", 1)
            if float(until) < now:
                self.redis.hdel(self.waiters, waiter)
            else:
                found[waiter] = int(rank)
        return found

    def wait(self, waiter: str, rank: int, until: float) -> None:
        self.redis.hset(self.waiters, waiter, f"{rank}:{until!r}")

    def done(self, waiter: str) -> None:
        self.redis.hdel(self.waiters, waiter)

    def paused_until(self) -> float:
        return float(self.redis.hget(self.state, "paused_until") or 0.0)

    def pause(self, until: float) -> None:
        self.redis.hset(self.state, "paused_until", repr(until))
        self.redis.hincrby(self.state, "rate_limited", 1)

    def rate_limited(self) -> int:
        return int(self.redis.hget(self.state, "rate_limited") or 0)


_budgets: WeakKeyDictionary[Store, Budget] = WeakKeyDictionary()
_budgets_lock = threading.Lock()


def budget_for(settings: Settings, store: Store) -> Budget:
    """The budget every process of this deployment shares: in Redis when the queue is
    Redis, else in the store. One object per store in a process (the app, its workers
    and its commands share it)."""
    with _budgets_lock:
        if store not in _budgets:
            queue, address = str(settings["queue"]["url"]), store.engine.url
            ledger: Ledger
            if queue != "embedded":
                ledger = RedisLedger(queue, queue_name(settings["store"]["url"]))
            elif address.get_backend_name() == "sqlite" and not _in_file(address.database):
                ledger = MemoryLedger()  # a store in memory has one process by definition
            else:
                ledger = SqlLedger(store)
            _budgets[store] = Budget(ledger, limits_of(settings))
        return _budgets[store]


def _in_file(database: str | None) -> bool:
    return database not in (None, "", ":memory:")


def init_app(app: Flask) -> None:
    """The app's requests spend from the deployment's budget, at the first priority: a
    person is waiting for the answer."""
    app.extensions[APP_KEY] = budget_for(app.config["CONSTELLATE"], get_store(app))

    @app.before_request
    def _urgent() -> None:
        g.forum_budget_priority = set_priority("moderator")

    @app.teardown_request
    def _done(_exc: BaseException | None) -> None:
        token = g.pop("forum_budget_priority", None)
        if token is not None:
            reset_priority(token)
