"""The health report: the latest snapshots of each scope, as text or JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.health.models import HealthAlert, HealthSnapshot
from community.health.scope import figure_at


@dataclass(frozen=True)
class ScopeReport:
    scope: str
    label: str
    computed_at: datetime
    windows: Mapping[int, Mapping[str, Any]]
    alerts: Sequence[HealthAlert]

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "label": self.label,
            "computed_at": self.computed_at.isoformat(),
            "windows": {str(days): values for days, values in self.windows.items()},
            "open_alerts": [
                {
                    "rule": a.rule,
                    "metric": a.metric,
                    "window_days": a.window_days,
                    "value": a.value,
                    "threshold": a.threshold,
                    "message": a.message,
                    "raised_at": a.raised_at.isoformat(),
                }
                for a in self.alerts
            ],
        }


def latest_reports(session: Session, *, label: str | None = None) -> list[ScopeReport]:
    """Each scope's newest snapshot per window (only scopes labelled ``label`` if given)."""
    newest = (
        select(
            HealthSnapshot.scope,
            HealthSnapshot.window_days,
            func.max(HealthSnapshot.day).label("day"),
        )
        .group_by(HealthSnapshot.scope, HealthSnapshot.window_days)
        .subquery()
    )
    query = select(HealthSnapshot).join(
        newest,
        (HealthSnapshot.scope == newest.c.scope)
        & (HealthSnapshot.window_days == newest.c.window_days)
        & (HealthSnapshot.day == newest.c.day),
    )
    if label is not None:
        query = query.where(func.lower(HealthSnapshot.label) == label.casefold())
    by_scope: dict[str, list[HealthSnapshot]] = {}
    for snapshot in session.scalars(query):
        by_scope.setdefault(snapshot.scope, []).append(snapshot)
    alerts: dict[str, list[HealthAlert]] = {}
    for alert in session.scalars(
        select(HealthAlert).where(HealthAlert.state == "open").order_by(HealthAlert.raised_at)
    ):
        alerts.setdefault(alert.scope, []).append(alert)
    reports = []
    for scope, snapshots in by_scope.items():
        snapshots.sort(key=lambda s: s.window_days)
        reports.append(
            ScopeReport(
                scope=scope,
                label=snapshots[-1].label,
                computed_at=max(s.computed_at for s in snapshots),
                windows={s.window_days: s.values for s in snapshots},
                alerts=alerts.get(scope, []),
            )
        )
    return sorted(reports, key=lambda r: (not r.scope.startswith("constellation:"), r.label))


# -- text ---------------------------------------------------------------------------------

ROWS: tuple[tuple[str, str, str], ...] = (
    # (label, dotted path, format)
    ("topics started", "first_response.topics", "int"),
    ("  still unanswered", "first_response.unanswered", "int"),
    ("first response, median (h)", "first_response.km_median_hours", "hours"),
    ("first response, 90th pct (h)", "first_response.km_p90_hours", "hours"),
    ("  answered only: median (h)", "first_response.median_hours", "hours"),
    ("  answered only: 90th pct (h)", "first_response.p90_hours", "hours"),
    ("unanswered after N h", "unanswered.rate", "ratio"),
    ("two-way ratio", "two_way.ratio", "ratio"),
    ("announcements by the centre", "announcements.announcements", "int"),
    ("  answered from the edge", "announcements.rate", "ratio"),
    ("replies from the edge", "edge_replies.ratio", "ratio"),
    ("posts", "participation.posts", "int"),
    ("participants", "participation.participants", "int"),
    ("Gini of posts", "participation.gini", "float"),
    ("core / regular / casual", "participation", "onion"),
    ("absence factor (people)", "concentration.absence_factor", "int"),
    ("elephant factor (orgs)", "concentration.elephant_factor", "int"),
    ("cross-organisation replies", "cross_organisation.rate", "ratio"),
    ("newcomers", "newcomers.newcomers", "int"),
    ("  answered within 48 h", "newcomers.answered_rate", "ratio"),
    ("  came back within 30 days", "newcomers.return_rate", "ratio"),
    ("posts per beat (oldest first)", "pulse.beats", "beats"),
    ("  regularity (CV)", "pulse.cv", "float"),
    ("  missed beats", "pulse.missed", "int"),
)


def render_text(reports: Sequence[ScopeReport]) -> str:
    if not reports:
        return "No health figures yet: run `constellate health recompute`."
    return "\n\n".join(_render_scope(report) for report in reports)


def _render_scope(report: ScopeReport) -> str:
    days = sorted(report.windows)
    width = 30
    lines = [f"{report.label} ({report.scope}), computed {report.computed_at:%Y-%m-%d %H:%M} UTC"]
    lines.append(" " * width + "".join(f"{str(d) + ' days':>14}" for d in days))
    for label, path, kind in ROWS:
        cells = [_cell(figure_at(report.windows[d], path), kind) for d in days]
        lines.append(f"{label:<{width}}" + "".join(f"{cell:>14}" for cell in cells))
    widest = report.windows[days[-1]]
    lines += _leadership(widest.get("leadership"))
    lines += _freshness(widest.get("freshness"))
    lines += _reciprocity(widest.get("reciprocity") or {}, days[-1])
    for alert in report.alerts:
        lines.append(f"ALERT {alert.rule}: {alert.message}")
    return "\n".join(lines)


def _cell(value: Any, kind: str) -> str:
    if kind == "onion":
        shares = [value.get(k) if value else None for k in ("core", "regular", "casual")]
        if None in shares:
            return "-"
        return "/".join(f"{round(100 * float(s))}" for s in shares if s is not None) + "%"
    if value is None:
        return "-"
    if kind == "ratio":
        return f"{value:.0%}"
    if kind == "hours":
        return f"{value:.1f}"
    if kind == "float":
        return f"{value:.2f}"
    if kind == "beats":
        shown = list(value)[-6:]
        return ("…" if len(value) > 6 else "") + ",".join(str(v) for v in shown)
    return str(value)


def _leadership(values: Mapping[str, Any] | None) -> list[str]:
    if not values or values.get("lead") is None:
        return []
    overrun = " (term overrun)" if values.get("terms_overrun") else ""
    return [
        f"lead partner {values['lead']}: {values['distinct_leads']} distinct lead(s) over the "
        f"last terms, {values['days_since_change']:.0f} days since the last change{overrun}"
    ]


def _freshness(values: Mapping[str, Any] | None) -> list[str]:
    if not values:
        return []
    lines = []
    if values.get("stale"):
        lines.append("stale wiki pages while the forum is busy: " + ", ".join(values["stale"]))
    if values.get("unknown"):
        lines.append("wiki pages with no edit seen yet: " + ", ".join(values["unknown"]))
    return lines


def _reciprocity(values: Mapping[str, Mapping[str, int]], days: int) -> list[str]:
    if not values:
        return []
    lines = [
        f"reciprocity over {days} days (replies given/received, practices adopted from/by others):"
    ]
    for organisation in sorted(values, key=str.casefold):
        v = values[organisation]
        lines.append(
            f"  {organisation}: {v['replies_given']}/{v['replies_received']}, "
            f"{v['adopted_from_others']}/{v['adopted_by_others']}"
        )
    return lines
