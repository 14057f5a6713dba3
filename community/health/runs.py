"""One health run: compute, keep the snapshots, raise or resolve alerts, tell the forum.

Used by the full recompute (command and schedule) and by the incremental handler.
Alert rows and their outgoing webhooks are written with the figures, in one transaction;
the forum is told afterwards (``notify`` finds whatever was not told yet, so a failed
post is simply tried again on the next run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.health import alerts
from community.health.compute import recompute_all, update_scope
from community.health.models import HealthAlert
from community.health.scope import ScopeHealth
from connectors.discourse import ForumClient
from core.config import Settings
from core.store import Store


@dataclass(frozen=True)
class RunOutcome:
    scopes: int
    raised: int
    resolved: int
    open: int


def recompute_and_alert(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    forum: ForumClient | None = None,
) -> RunOutcome:
    """The full recompute: every scope, every alert rule, then the forum is told."""
    with store.session() as session:
        healths, changed = recompute_everything(session, settings, now=now)
    if forum is None and settings["forum"].get("url"):
        forum = ForumClient(settings["forum"])
    if forum is not None:
        with store.session() as session:
            alerts.notify(session, forum, settings)
    with store.session() as session:
        still_open = session.scalar(
            select(func.count()).select_from(HealthAlert).where(HealthAlert.state == "open")
        )
    return RunOutcome(
        scopes=len(healths),
        raised=sum(1 for a in changed if a.state == "open" and a.raised_at == a.updated_at),
        resolved=sum(1 for a in changed if a.state == "resolved"),
        open=int(still_open or 0),
    )


def update_and_alert(
    session: Session, settings: Settings, scope: str, *, now: datetime | None = None
) -> ScopeHealth:
    """The incremental step for one scope (the forum is told by the caller)."""
    health = update_scope(session, settings, scope, now=now)
    alerts.apply_alerts(session, settings, health)
    return health


def recompute_everything(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> tuple[list[ScopeHealth], list[HealthAlert]]:
    """Every scope recomputed, every alert rule applied (the forum is told by the caller);
    returns the scopes' health and the alerts that changed."""
    healths = recompute_all(session, settings, now=now)
    thresholds = alerts.load_thresholds(settings)
    changed: list[HealthAlert] = []
    for health in healths:
        changed += alerts.apply_alerts(session, settings, health, thresholds)
    return healths, changed
