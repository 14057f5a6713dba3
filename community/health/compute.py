"""Computing a scope's health from the store and keeping it as a snapshot.

``update_scope`` is the incremental step (one scope, the one an event touched);
``recompute_all`` redoes every scope, and the per-account first posts, from scratch.
Snapshots are kept one per (scope, window, day): the day's latest values (by the moment
they were computed for) replace that day's earlier ones, and earlier days stay, so trends
can be drawn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from community.health import live, metrics
from community.health.conversation import Window, counted_posts
from community.health.first_posts import rebuild_first_posts
from community.health.inputs import ScopeInputs, ScopeSpec, load_inputs, scope_specs
from community.health.models import HealthSnapshot
from community.health.scope import ScopeHealth
from community.health.whole_scope import scope_health
from core import clock
from core.config import Settings
from core.errors import ConstellateError
from core.store import dialect_insert


class UnknownScope(ConstellateError):
    """A scope that names no constellation or category the store knows."""


def recompute_all(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> list[ScopeHealth]:
    """Every scope's health from scratch (the full recompute command). Every figure is
    computed before any is written: on SQLite the writes hold the one write lock, and
    the other workers and the webhook receiver must not wait for the whole computation."""
    moment = now or clock.now()
    rebuild_first_posts(session)
    live.prune_log(session)
    healths = [
        compute(spec, load_inputs(session, settings, spec, now=moment), settings, now=moment)
        for spec in scope_specs(session)
    ]
    store_snapshots(session, *healths)
    return healths


def update_scope(
    session: Session, settings: Settings, scope: str, *, now: datetime | None = None
) -> ScopeHealth:
    """One scope's health, brought forward to ``now`` and stored (the incremental step)."""
    health = live.updated(session, settings, scope, now or clock.now())
    if health is None:
        raise UnknownScope(f"health scope {scope!r}: no such constellation or category")
    store_snapshots(session, health)
    return health


def compute(
    spec: ScopeSpec, inputs: ScopeInputs, settings: Settings, *, now: datetime
) -> ScopeHealth:
    """Every metric of docs/metrics.md over each configured window."""
    options = settings["health"]
    posts = counted_posts(inputs.rows, inputs.people)

    def recent_posts(since: datetime) -> int:
        return sum(1 for post in posts if since <= post.created_at < now)

    def window_figures(
        days: int, leadership: metrics.Figures | None, freshness: metrics.Figures
    ) -> dict[str, Any]:
        window = Window(now, days)
        return {
            "first_response": metrics.first_response(posts, window),
            "unanswered": metrics.unanswered(posts, window, int(options["unanswered_hours"])),
            "two_way": metrics.two_way(posts, window),
            "announcements": metrics.announcements(
                posts, window, inputs.centre, int(options["edge_answer_hours"])
            ),
            "edge_replies": metrics.edge_replies(posts, window, inputs.centre),
            "participation": metrics.participation(posts, window),
            "concentration": metrics.concentration(posts, window),
            "cross_organisation": metrics.cross_organisation(posts, window),
            "reciprocity": metrics.reciprocity(posts, window, inputs.adoptions),
            "newcomers": metrics.newcomers(
                posts,
                window,
                inputs.histories,
                answer_hours=int(options["newcomer_answer_hours"]),
                return_days=int(options["newcomer_return_days"]),
            ),
            "pulse": metrics.pulse(
                posts, window, spec.beat_days, float(options["missed_beat_fraction"])
            ),
            "leadership": leadership,
            "freshness": freshness,
        }

    return scope_health(spec, inputs, options, now, recent_posts, window_figures)


def store_snapshots(session: Session, *healths: ScopeHealth) -> None:
    """Keep the figures as the day's snapshot of each window, replacing the day's last
    unless that one was computed later: a run that started before an incremental update
    but finishes after it (or a recompute ``--at`` an earlier moment) must not put older
    figures over newer ones. One statement for every row (executemany)."""
    rows = [
        {
            "scope": health.scope,
            "window_days": days,
            "day": health.computed_at.astimezone(UTC).date(),
            "label": health.label,
            "computed_at": health.computed_at,
            "values": values,
        }
        for health in healths
        for days, values in health.windows.items()
    ]
    if not rows:
        return
    insert = dialect_insert(session, HealthSnapshot)
    session.flush()  # the connection's statements skip the session's autoflush
    session.connection().execute(
        insert.on_conflict_do_update(
            index_elements=["scope", "window_days", "day"],
            set_={
                "label": insert.excluded.label,
                "computed_at": insert.excluded.computed_at,
                "values": insert.excluded["values"],
            },
            where=HealthSnapshot.computed_at <= insert.excluded.computed_at,
        ),
        rows,
    )
