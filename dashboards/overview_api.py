"""The constellations and their health as JSON: the list, one constellation in full, and
the open alerts (described in openapi/constellations.yaml)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from flask import Response, current_app, jsonify

from core import clock
from core.config import Settings
from core.store import get_store
from dashboards.constellation_queries import ConstellationDetail, constellation
from dashboards.overview_queries import AlertRow, ConstellationRow, constellations, open_alerts
from dashboards.web import PAGE_SIZE, api, json_error, page_number


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def summary_json(row: ConstellationRow) -> dict[str, Any]:
    health = row.health
    pulse = row.pulse
    return {
        "page_id": row.page_id,
        "title": row.title,
        "status": row.status,
        "lead_partner": row.lead_partner,
        "archived": row.archived,
        "open_alerts": row.open_alerts,
        "health": None
        if health is None
        else {
            "day": _day(health.day),
            "window_days": health.window_days,
            "computed_at": _time(health.computed_at),
            "topics": health.topics,
            "km_median_first_response_hours": health.km_median_first_response_hours,
            "median_first_response_hours": health.median_first_response_hours,
            "unanswered_rate": health.unanswered_rate,
            "two_way_ratio": health.two_way_ratio,
            "participants": health.participants,
            "posts": health.posts,
            "centre_edge": None if health.centre_edge is None else asdict(health.centre_edge),
        },
        "pulse": None
        if pulse is None
        else {
            "beat": pulse.beat,
            "beat_days": pulse.beat_days,
            "beats": pulse.beats,
            "beat_ends": [_day(end) for end in pulse.beat_ends()],
            "missed": pulse.missed,
        },
    }


def alert_json(alert: AlertRow) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "scope": alert.scope,
        "page_id": alert.page_id,
        "label": alert.label,
        "metric": alert.metric,
        "window_days": alert.window_days,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "raised_at": _time(alert.raised_at),
        "updated_at": _time(alert.updated_at),
    }


def detail_json(detail: ConstellationDetail) -> dict[str, Any]:
    sync = detail.sync
    return {
        **summary_json(detail.row),
        "charter": dict(detail.charter),
        "metrics": {
            "window_days": detail.window_days,
            "series": [
                {
                    "metric": series.metric.path,
                    "label": series.metric.label,
                    "unit": series.metric.unit,
                    "points": [{"day": _day(d), "value": v} for d, v in series.points],
                }
                for series in detail.series
            ],
        },
        "leadership": [
            {
                "at": _time(change.at),
                "lead_partner": change.lead_partner,
                "previous_lead": change.previous_lead,
                "new_lead": change.new_lead,
                "partners": change.partners,
                "previous_partners": change.previous_partners,
                "user": change.user,
                "revid": change.revid,
            }
            for change in detail.leadership
        ],
        "participants_by_organisation": {
            "since": _time(detail.participants_since),
            "until": _time(detail.participants_until),
            "organisations": [
                {"organisation": s.organisation, "participants": s.participants, "posts": s.posts}
                for s in detail.participants
            ],
        },
        "sync": {
            "wiki_title": sync.wiki_title,
            "wiki_url": sync.wiki_url or None,
            "forum_category_id": sync.forum_category_id,
            "category_name": sync.category_name,
            "category_url": sync.category_url,
            "forum_topic_id": sync.forum_topic_id,
            "topic_url": sync.topic_url,
            "written_at": _time(sync.written_at),
            "archived_at": _time(sync.archived_at),
            "forum_text": sync.forum_text,
            "last_run": None
            if sync.last_run is None
            else {
                "id": sync.last_run.id,
                "trigger": sync.last_run.trigger,
                "finished_at": _time(sync.last_run.finished_at),
                "error": sync.last_run.error,
            },
        },
        "open_issues": [
            {
                "id": issue.id,
                "kind": issue.kind,
                "field": issue.field,
                "detail": issue.detail,
                "forum_post_id": issue.forum_post_id,
                "created_at": _time(issue.created_at),
                "resolvable": issue.resolvable,
            }
            for issue in detail.issues
        ],
        "alerts": [alert_json(alert) for alert in detail.alerts],
    }


@api.get("/constellations")
def list_constellations() -> Response:
    page = page_number()
    with get_store().session() as session:
        listing = constellations(session, _settings(), page=page, page_size=PAGE_SIZE)
    return jsonify(
        {
            "page": listing.page,
            "page_size": listing.page_size,
            "total": listing.total,
            "constellations": [summary_json(row) for row in listing.rows],
        }
    )


@api.get("/constellations/<id:page_id>")
def get_constellation(page_id: int) -> Response | tuple[Response, int]:
    with get_store().session() as session:
        detail = constellation(session, _settings(), page_id, now=clock.now())
    if detail is None:
        return json_error(404, f"no constellation has the wiki page id {page_id}")
    return jsonify(detail_json(detail))


@api.get("/alerts")
def list_alerts() -> Response:
    page = page_number()
    with get_store().session() as session:
        alerts, total = open_alerts(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return jsonify(
        {
            "page": page,
            "page_size": PAGE_SIZE,
            "total": total,
            "alerts": [alert_json(alert) for alert in alerts],
        }
    )
