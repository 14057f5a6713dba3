"""A forum budget in use, for the tests of what shows it (the Sync page, ``/metrics``):
requests spent at several priorities, a 429's pause, and a request waiting it out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from core import forum_budget
from core.forum_budget import Budget
from tests.clocks import FakeClock

T = TypeVar("T")

SPENT = {"moderator": 3, "sync": 2, "section": 1}  # by priority, at the clock's time
PAUSE = 45.0  # seconds the forum's 429 asks every process to wait


def spend(budget: Budget, spent: dict[str, int]) -> None:
    """Spend ``spent`` requests (by priority) now; each finds its place at once."""
    for name, count in spent.items():
        with forum_budget.priority(name):
            for _ in range(count):
                assert budget.acquire(max_wait=0) == 0


def while_waiting(budget: Budget, clock: FakeClock, name: str, look: Callable[[], T]) -> T:
    """What ``look`` returns while a request at priority ``name`` waits for a place in
    ``budget``'s ledger (as another process's request would); then the wait passes on
    ``clock`` and the request takes its place."""
    seen: list[T] = []

    def sleep(seconds: float) -> None:
        if not seen:
            seen.append(look())
        clock.advance(seconds=seconds)

    waiting = Budget(budget.ledger, budget.limits, sleep=sleep)
    with forum_budget.priority(name):
        waiting.acquire(max_wait=10 * forum_budget.WINDOW)
    assert seen, "the request did not wait"
    return seen[0]
