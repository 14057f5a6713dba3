"""What every Flask app of the service starts from: the receiving app
(service/receiving.py) and the full service (service/app.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from core import clock as clocks
from core import logs, store
from core.clock import Clock
from core.config import MAX_REQUEST_BYTES, settings_for


def base_app(config: Mapping[str, Mapping[str, Any]] | None, clock: Clock | None) -> Flask:
    """What the receiving app and the full service both start from: the configuration
    (``$CONSTELLATE_CONFIG`` and ``CONSTELLATE_*``, or only defaults and ``config``),
    validated, the clock, the logs and the store."""
    settings = settings_for(config)
    app = Flask("constellate")
    app.config.update(
        CONSTELLATE=settings,
        SECRET_KEY=settings["service"]["secret_key"],
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
    )
    clocks.init_app(app, clock)
    logs.init_app(app)
    store.init_app(app)
    return app
