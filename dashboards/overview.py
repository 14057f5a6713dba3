"""The Overview page (every constellation with its health and pulse, and the open alerts)
and a constellation's own page (its figures over time, leadership, participants, sync
state and charter). Both read the store only; charts are drawn on the server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from markupsafe import Markup

from community.health.thresholds import figure_words, format_figure
from core import clock
from core.config import Settings
from core.store import get_store
from dashboards import charts
from dashboards.constellation_queries import CHARTS, ConstellationDetail, constellation
from dashboards.overview_queries import ConstellationRow, Pulse, constellations, open_alerts
from dashboards.web import PAGE_SIZE, page_number, pages, render_page, safe_url

BEAT_NOUNS = {"weekly": "week", "fortnightly": "fortnight", "monthly": "month"}
STATUS_BADGES = {"active": "ok", "forming": "", "dormant": "warn", "sunset": ""}


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


# -- figures as people read them -------------------------------------------------------------


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} h"


def day(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def moment(value: datetime | None) -> str:
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_badge(status: str | None) -> str:
    return STATUS_BADGES.get(status or "", "")


FORMATS = {
    "percent": percent,
    "hours": hours,
    "day": day,
    "moment": moment,
    "status_badge": status_badge,
    "safe_url": safe_url,
    "figure_words": figure_words,
    "format_figure": format_figure,
}


def beat_noun(pulse: Pulse) -> str:
    return BEAT_NOUNS.get(pulse.beat, f"{pulse.beat_days} days")


def pulse_sparkline(row: ConstellationRow) -> Markup | None:
    if row.pulse is None:
        return None
    count = len(row.pulse.beats)
    noun = beat_noun(row.pulse)
    label = f"Pulse of {row.title}: posts per {noun}, last {count} {noun}s"
    return charts.sparkline(row.pulse.beats, label)


# -- the overview ----------------------------------------------------------------------------


@pages.get("/")
def overview() -> str:
    with get_store().session() as session:
        listing = constellations(session, _settings(), page=page_number(), page_size=PAGE_SIZE)
        alerts, alert_total = open_alerts(session)
    sparklines = {row.page_id: pulse_sparkline(row) for row in listing.rows}
    return render_page(
        "dashboard/overview.html",
        listing=listing,
        sparklines=sparklines,
        alerts=alerts,
        alert_total=alert_total,
        **FORMATS,
    )


# -- one constellation -----------------------------------------------------------------------


@pages.get("/constellations/<id:page_id>", endpoint="constellation")
def constellation_page(page_id: int) -> str | tuple[str, int]:
    now = clock.now()
    with get_store().session() as session:
        detail = constellation(session, _settings(), page_id, now=now)
    if detail is None:
        return render_page("dashboard/constellation_missing.html", page_id=page_id), 404
    return render_page(
        "dashboard/constellation.html",
        detail=detail,
        row=detail.row,
        pictures=_pictures(detail, now),
        **FORMATS,
    )


def _pictures(detail: ConstellationDetail, now: datetime) -> dict[str, Any]:
    """The constellation's charts, drawn from its detail."""
    title = detail.row.title
    series = {s.metric.path: s for s in detail.series}
    over_time = []
    for chart in CHARTS:
        lines = []
        for metric in chart.metrics:
            scale = 100.0 if metric.unit == "share" else 1.0
            points = [
                (moment_of(d), None if v is None else v * scale)
                for d, v in series[metric.path].points
            ]
            lines.append((metric.label, points))
        heading = f"{chart.title} of {title}, each day over the {detail.window_days} days before"
        over_time.append(charts.line_chart(lines, heading, chart.y_label))
    pulse = detail.row.pulse
    beats = None
    if pulse is not None:
        noun = beat_noun(pulse)
        pairs = [
            (f"{noun} to {end.isoformat()}", float(count))
            for end, count in zip(pulse.beat_ends(), pulse.beats, strict=True)
        ]
        beats = charts.bar_chart(pairs, f"Pulse of {title}: posts per {noun}, oldest first")
    organisations = charts.bar_chart(
        [(share.organisation, float(share.participants)) for share in detail.participants],
        f"Participants of {title} by organisation, {day(detail.participants_since)} "
        f"to {day(detail.participants_until)}",
    )
    leads = charts.timeline(detail.lead_spans(), f"Lead partners of {title}", until=now)
    return {"over_time": over_time, "beats": beats, "organisations": organisations, "leads": leads}


def moment_of(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
