"""What the full recompute and the incremental step share: the figures of a scope that
no window changes (leadership, wiki freshness) and the ``ScopeHealth`` they are kept in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from community.health import metrics
from community.health.inputs import ScopeInputs, ScopeSpec
from community.health.scope import ScopeHealth


def scope_health(
    spec: ScopeSpec,
    inputs: ScopeInputs,
    options: Mapping[str, Any],
    now: datetime,
    recent_posts: Callable[[datetime], int],
    window_figures: Callable[[int, metrics.Figures | None, metrics.Figures], dict[str, Any]],
) -> ScopeHealth:
    """The scope's health as of ``now``: ``recent_posts(since)`` counts the counted posts
    since then; ``window_figures(days, leadership, freshness)`` gives a window's figures."""
    leadership = (
        metrics.leadership(
            inputs.lead_changes,
            now=now,
            term_end=inputs.term_end,
            terms=int(options["leadership_terms"]),
        )
        if spec.charter
        else None
    )
    stale_days = int(options["stale_days"])
    freshness = metrics.freshness_figures(
        inputs.pages,
        recent_posts(now - timedelta(days=stale_days)),
        now=now,
        days=stale_days,
        min_posts=int(options["stale_min_posts"]),
    )
    freshness["stale_count"] = len(freshness["stale"])
    return ScopeHealth(
        scope=spec.scope,
        kind=spec.kind,
        label=spec.label,
        status=spec.status,
        lead_group=inputs.lead_group,
        computed_at=now,
        windows={
            days: window_figures(days, leadership, freshness)
            for days in sorted(int(d) for d in options["windows"])
        },
    )
