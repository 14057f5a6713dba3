"""The forum budget on each ledger: the share of the forum's minute, the shared pause after
a 429, priorities, and what it shows. Time is a fake clock; waits move it."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from core import forum_budget
from core.forum_budget import Budget, BudgetExhausted, Limits, MemoryLedger
from core.forum_budget_ledgers import RedisLedger, SqlLedger
from core.migrate import upgrade
from core.store import Store
from tests.clocks import FakeClock, chosen

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"]
)
def ledger(request: pytest.FixtureRequest, redis_url: str) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryLedger()
    elif request.param == "redis":
        made = RedisLedger(redis_url, f"test-{uuid.uuid4().hex}")
        yield made
        for key in made.redis.scan_iter(made.prefix + "*"):
            made.redis.delete(key)
    else:
        url: str = request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_url")
        upgrade(url)
        store = Store(url)
        yield SqlLedger(store)
        store.dispose()


class Waits(list[float]):
    """The budget's sleep: records each wait and moves the fake clock by it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))
        self.clock.advance(seconds=seconds)


def budget(ledger: object, clock: FakeClock, per_minute: int = 60) -> tuple[Budget, Waits]:
    waits = Waits(clock)
    return Budget(ledger, Limits(per_minute, 0.5), sleep=waits), waits  # type: ignore[arg-type]


def test_half_the_forum_minute_then_wait_for_the_oldest_to_leave(
    ledger: object, clock: FakeClock
) -> None:
    made, waits = budget(ledger, clock)
    for _ in range(30):
        assert made.acquire(max_wait=0) == 0
        clock.advance(seconds=1)
    # 30 spent at 0..29 s, now 30 s: the 31st fits when the first leaves, at 60 s.
    assert made.acquire(max_wait=120) == pytest.approx(30)
    assert waits == [30.0]
    status = made.status()
    assert (status.used, status.left, status.allowed) == (30, 0, 30)


def test_no_wait_longer_than_allowed(ledger: object, clock: FakeClock) -> None:
    made, waits = budget(ledger, clock, per_minute=2)
    made.acquire(max_wait=0)
    with pytest.raises(BudgetExhausted) as caught:
        made.acquire(max_wait=30)
    assert caught.value.retry_after == pytest.approx(60)
    assert waits == []


def test_a_deadline_shortens_the_wait(ledger: object, clock: FakeClock) -> None:
    made, _ = budget(ledger, clock, per_minute=2)
    made.acquire(max_wait=0)
    with forum_budget.deadline(T0 + timedelta(seconds=10)), pytest.raises(BudgetExhausted):
        made.acquire(max_wait=120)


def test_a_429_pauses_every_user_of_the_ledger(ledger: object, clock: FakeClock) -> None:
    first, _ = budget(ledger, clock)
    second, waits = budget(ledger, clock)  # another process: the same ledger
    first.pause(39)
    second.pause(5)  # a shorter pause never cuts a longer one short
    assert first.status().paused_for == pytest.approx(39)
    assert second.acquire(max_wait=120) == pytest.approx(39)
    assert waits == [39.0]
    assert second.status().rate_limited == 2


def test_a_more_urgent_request_waiting_goes_first(ledger: object, clock: FakeClock) -> None:
    made, _ = budget(ledger, clock, per_minute=2)
    made.acquire(max_wait=0)
    with forum_budget.priority("moderator"), pytest.raises(BudgetExhausted):
        made.acquire(max_wait=1)  # waits (registered), gives up after the 1 s it may wait
    with made.ledger.turn() as turn:  # a moderator's request still waiting elsewhere
        turn.wait("urgent", forum_budget.RANK["moderator"], T0.timestamp() + 100)
    clock.advance(seconds=60)  # the place is free again, but the moderator comes first
    with forum_budget.priority("scan"), pytest.raises(BudgetExhausted):
        made.acquire(max_wait=0.5)
    assert made.status().waiting_by_priority["moderator"] == 1
    with forum_budget.priority("moderator"):
        assert made.acquire(max_wait=0) == 0
    with made.ledger.turn() as turn:
        turn.done("urgent")
    clock.advance(seconds=60)
    with forum_budget.priority("scan"):
        assert made.acquire(max_wait=0) == 0
    assert made.status().used_by_priority["scan"] == 1


def test_a_dead_waiter_stops_holding_others_back(ledger: object, clock: FakeClock) -> None:
    made, _ = budget(ledger, clock)
    with made.ledger.turn() as turn:
        turn.wait("died", forum_budget.RANK["moderator"], T0.timestamp() + 10)
    with forum_budget.priority("scan"):
        with pytest.raises(BudgetExhausted):
            made.acquire(max_wait=0)
        clock.advance(seconds=11)
        assert made.acquire(max_wait=0) == 0


def test_an_unknown_priority_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown forum budget priority 'urgent'"):
        forum_budget.set_priority("urgent")


def test_the_ledgers_agree_on_redis_keys_per_store(redis_url: str) -> None:
    """Two deployments sharing one Redis keep apart (keys named after the store)."""
    one = RedisLedger(redis_url, "constellate-aaaa")
    two = RedisLedger(redis_url, "constellate-bbbb")
    assert one.prefix != two.prefix
    assert isinstance(one.redis, redis.Redis)


def _take_a_turn(url: str, start: Any) -> None:
    start.wait()
    with SqlLedger(Store(url)).turn() as turn:
        turn.spend(T0.timestamp(), "scan")


def test_worker_processes_starting_together_all_open_the_ledger_file(sqlite_url: str) -> None:
    """On SQLite the ledger's tables live in a file made at the first turn; processes that
    start at the same moment each make it without tripping over another's tables."""
    upgrade(sqlite_url)
    context = multiprocessing.get_context("fork")
    start = context.Barrier(6)
    processes = [context.Process(target=_take_a_turn, args=(sqlite_url, start)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * 6
    with SqlLedger(Store(sqlite_url)).turn() as turn:
        assert len(turn.window(0.0)) == 6
