"""The health summary a constellation's wiki section shows (from the stored snapshots)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape
from community.health.models import HealthAlert, HealthSnapshot

NOT_YET = "Not measured yet: the figures appear after the first health computation."
SUMMARY_WINDOW = 30  # days; the widest window is used when 30 is not configured


def health_lines(session: Session, scope: str) -> list[str]:
    """Wikitext lines: figures we write, and alert messages escaped (they hold titles)."""
    snapshots = list(
        session.scalars(
            select(HealthSnapshot)
            .where(HealthSnapshot.scope == scope)
            .order_by(HealthSnapshot.day.desc(), HealthSnapshot.window_days)
        )
    )
    if not snapshots:
        return [NOT_YET]
    newest = [s for s in snapshots if s.day == snapshots[0].day]
    chosen = next((s for s in newest if s.window_days == SUMMARY_WINDOW), newest[-1])
    lines = [f"Over the last {chosen.window_days} days (as of {chosen.day.isoformat()}):"]
    lines += [f"* {line}" for line in describe(chosen.values)]
    alerts = session.scalars(
        select(HealthAlert)
        .where(HealthAlert.scope == scope, HealthAlert.state == "open")
        .order_by(HealthAlert.raised_at)
    )
    lines += [f"* '''Alert:''' {escape(alert.message)}" for alert in alerts]
    return lines


def describe(values: Mapping[str, Any]) -> list[str]:
    """Short sentences of the figures that matter most to the people of a constellation."""
    first = values["first_response"]
    lines = [f"{first['topics']} topics started, {first['unanswered']} still without a reply"]
    if first["median_hours"] is not None:
        lines.append(
            f"first reply after {first['median_hours']:.1f} h (median), "
            f"{first['p90_hours']:.1f} h for 9 in 10 topics"
        )
    participation = values["participation"]
    lines.append(f"{participation['posts']} posts by {participation['participants']} participants")
    for label, figure in (
        ("two-way ratio (the opening poster came back after a reply)", values["two_way"]["ratio"]),
        ("cross-organisation replies", values["cross_organisation"]["rate"]),
    ):
        if figure is not None:
            lines.append(f"{label}: {figure:.0%}")
    pulse = values["pulse"]
    if pulse["beats"]:
        lines.append(
            f"posts per beat, oldest first: {', '.join(str(b) for b in pulse['beats'])}"
            + (f" ({pulse['missed']} missed)" if pulse["missed"] else "")
        )
    return lines
