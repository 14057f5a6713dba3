"""A scope's computed health: what the report prints, alerts read and snapshots keep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CONSTELLATION = "constellation"  # scope "constellation:<wiki page id>" (its forum category)
CATEGORY = "category"  # scope "category:<forum category id>", a category no constellation has


@dataclass(frozen=True)
class ScopeHealth:
    scope: str
    kind: str  # CONSTELLATION or CATEGORY
    label: str  # the constellation's page title or the category's name
    status: str | None  # the constellation's status (forming/active/dormant/sunset)
    lead_group: str | None  # the forum group of the lead partner (the charter's lead_partner)
    computed_at: datetime
    windows: Mapping[int, Mapping[str, Any]]  # window days -> metric group -> figures

    def figure(self, window_days: int, path: str) -> Any:
        """One figure by its dotted path (``"unanswered.rate"``); None when absent."""
        return figure_at(self.windows.get(window_days, {}), path)


def figure_at(values: Mapping[str, Any], path: str) -> Any:
    """The figure at a dotted path in one window's figures; None when absent."""
    value: Any = values
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
