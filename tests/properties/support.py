"""Hypothesis settings shared by the property tests.

Fixed example counts and derandomised generation keep CI runs repeatable; no example
database, so nothing is written into the tree.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Pure functions: many examples are cheap.
PURE = settings(max_examples=200, deadline=None, derandomize=True, database=None)
# Examples that talk to the real wiki: few, each one a page of its own.
ON_WIKI = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
