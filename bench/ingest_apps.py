"""The two WSGI apps of the ingest benchmark.

gunicorn calls ``bench.ingest_apps:service()`` or ``bench.ingest_apps:bare()`` in each
worker (its factory syntax), so nothing is built at import.
"""

from __future__ import annotations

from flask import Flask


def service() -> Flask:
    """The real service, configured from $CONSTELLATE_CONFIG like a deployment."""
    from service.app import create_app  # here: the bare app's workers must not load the service

    return create_app()


def bare() -> Flask:
    """The reference: the same route answering 204, with no signature check and no store."""
    app = Flask("ingest-bare")

    @app.post("/webhooks/discourse")
    def receive() -> tuple[str, int]:
        return "", 204

    return app
