"""The moderator dashboard: HTML pages under /dashboard, the JSON API under /api/v1, the
login through the forum, and the browser-facing security of the whole service (the
account-link pages, dashboards/connect_views.py, register themselves in the app factory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    # Route modules register their routes on the blueprints when imported.
    from dashboards import (  # noqa: F401
        auth,
        automations,
        openapi,
        overview,
        overview_api,
        people,
        practices,
        security,
        sessions,
        sync_status,
        webhooks_log,
    )
    from dashboards.web import RowId, api, api_routing_error, pages

    app.url_map.converters["id"] = RowId  # before the blueprints' routes are added
    sessions.init_app(app)
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_error_handler(404, api_routing_error)
    app.register_error_handler(405, api_routing_error)
    openapi.init_app(app)
    security.init_app(app)
