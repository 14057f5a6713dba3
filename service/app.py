"""The application factory. Nothing happens at import; each part registers itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

import dashboards
from core import clock as clocks
from core import forum_budget_ledgers, logs, store
from core.clock import Clock
from core.config import load_config
from dashboards import connect_views, privacy_views
from service import cli, readiness, scrape, worker
from webhooks import incoming

# Webhook bodies and API requests are small; refuse anything larger early.
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(
    config: Mapping[str, Mapping[str, Any]] | None = None, *, clock: Clock | None = None
) -> Flask:
    """Build the service.

    Without ``config`` the configuration comes from ``$CONSTELLATE_CONFIG`` and
    ``CONSTELLATE_*`` variables; with it (tests), only defaults and ``config``
    count. Either way it is validated before anything starts. ``clock`` (the system's
    unless given) is the time of the app's requests, commands and worker threads.
    """
    settings = load_config() if config is None else load_config(overrides=config, environ={})
    app = Flask("constellate")
    app.config.update(
        CONSTELLATE=settings,
        SECRET_KEY=settings["service"]["secret_key"],
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    clocks.init_app(app, clock)
    logs.init_app(app)
    store.init_app(app)
    forum_budget_ledgers.init_app(app)
    readiness.init_app(app)
    scrape.init_app(app)
    incoming.init_app(app)
    connect_views.init_app(app)
    privacy_views.init_app(app)
    dashboards.init_app(app)  # after every blueprint: it exempts the webhooks from CSRF
    worker.init_app(app)
    cli.init_app(app)
    return app
