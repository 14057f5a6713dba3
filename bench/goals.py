"""What the benchmarks that judge themselves share: a goal with its limit, and the
nearest-rank percentile their lag goals are stated in."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    name: str
    value: float
    limit: float
    at_least: bool = False  # a floor (throughput), not a ceiling (lag, memory)

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.95 for p95); infinite with no values, so
    a goal on nothing measured is missed."""
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]
