"""The dashboard's two blueprints and what every page and API route shares.

``pages`` (HTML under /dashboard) and ``api`` (JSON under /api/v1) both refuse anyone who
is not logged in as a moderator (pages) or holding an API token (api); the guards are
registered here, so a route module adds routes and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVarTuple
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, jsonify, render_template, request
from sqlalchemy import Row, Select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import IntegerConverter, Map

pages = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
api = Blueprint("api", __name__, url_prefix="/api/v1")

PAGE_SIZE = 50

NAV = (
    ("Overview", "/dashboard/"),
    ("Practices", "/dashboard/practices"),
    ("People", "/dashboard/people"),
    ("Automations", "/dashboard/automations"),
    ("Webhooks", "/dashboard/webhooks"),
    ("Sync", "/dashboard/sync"),
)


@dataclass(frozen=True)
class Viewer:
    username: str
    is_machine: bool


def viewer() -> Viewer:
    found: Viewer = g.viewer
    return found


def render_page(template: str, **context: Any) -> str:
    return render_template(
        template, viewer=g.get("viewer"), nav=NAV, current=request.path, **context
    )


def safe_url(url: str | None) -> str:
    """``url`` when it is an absolute http(s) address, else "" (no javascript: links)."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


Columns = TypeVarTuple("Columns")


def paginate(
    session: Session, query: Select[*Columns], page: int
) -> tuple[list[Row[*Columns]], bool]:
    """One page of ``query`` (already ordered) and whether another page follows."""
    rows = list(session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def json_error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def api_routing_error(error: HTTPException) -> HTTPException | tuple[Response, int]:
    """Under /api/ a path or method that is not served is answered in JSON like every other
    API error (the routing fails before the blueprint is known, so this is app-wide)."""
    if not request.path.startswith("/api/") or error.code is None:
        return error
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(error.valid_methods or [])
        response, status = json_error(
            405, f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}"
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response, status
    return json_error(error.code, f"no such API resource: {request.path}")


class RowId(IntegerConverter):
    """``<id:name>`` in a route: a row id as the store keeps it (a 32-bit integer), so a
    longer number is a plain 404 instead of an error from the database."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, max=2**31 - 1)
