"""The two WSGI apps of the ingest benchmark.

gunicorn calls ``bench.ingest_apps:service()`` or ``bench.ingest_apps:bare()`` in each
worker (its factory syntax), so nothing is built at import.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def service() -> Any:
    """The real service as ``service.wsgi`` serves it, configured from $CONSTELLATE_CONFIG
    like a deployment (workers apart: webhooks reach the receiving app)."""
    from service.web import web_app  # here: the bare app's workers must not load it

    return web_app()


def bare() -> Flask:
    """The reference: the same route answering 204, with no signature check and no store."""
    app = Flask("ingest-bare")

    @app.post("/webhooks/discourse")
    def receive() -> tuple[str, int]:
        return "", 204

    return app
