"""The web process's WSGI app when workers run apart: Discourse's webhooks are answered by
a small receiving app, every other request by the full service, built at its first one.

A web process that only receives webhooks then loads what receiving needs (Flask, the
store, the inbox, the signature and the quick check) and not the dashboards, the
connectors, the handlers or the automations: a fraction of the memory, in every process
of the server. With the embedded worker (the one-process default) the full service is
built at once, as before: its first request starts the worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from core import wakeup
from core.clock import Clock
from core.config import load_config
from dashboards.headers import HSTS, SECURITY_HEADERS
from service.base import base_app
from webhooks.incoming import discourse

# Served by the receiving app; any other path builds the full service.
RECEIVED_PATHS = frozenset({"/webhooks/discourse"})


def create_receiver(
    config: Mapping[str, Mapping[str, Any]] | None = None, *, clock: Clock | None = None
) -> Flask:
    """The receiving app: ``POST /webhooks/discourse`` and nothing else."""
    app = base_app(config, clock)
    settings = app.config["CONSTELLATE"]
    app.session_interface = NoSessions()
    app.register_blueprint(discourse.blueprint)
    wakeup.configure(settings)
    extra = list(SECURITY_HEADERS.items())
    if settings["dashboard"]["secure_cookies"]:
        extra.append(("Strict-Transport-Security", HSTS))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.extend(extra)  # the same headers as every answer of the service
        return response

    return app


class NoSessions(SessionInterface):
    """Webhooks are authenticated by their signature: no cookie is read, no session
    signed or written (Flask keeps a null session for the request)."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


class ReceiverFirst:
    """WSGI: webhooks to the receiving app, the rest to the full service (made once)."""

    def __init__(self, receiver: Flask, build_full: Callable[[], Flask]) -> None:
        self.receiver = receiver
        self._build_full = build_full
        self._full: Flask | None = None
        self._lock = threading.Lock()

    def full(self) -> Flask:
        if self._full is None:
            with self._lock:
                if self._full is None:
                    self._full = self._build_full()
        return self._full

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in RECEIVED_PATHS:
            return self.receiver(environ, start_response)
        return self.full()(environ, start_response)


def web_app() -> ReceiverFirst | Flask:
    """What a web server serves, configured from ``$CONSTELLATE_CONFIG``."""
    if load_config()["worker"]["embedded"]:
        return _full_service()
    return ReceiverFirst(create_receiver(), _full_service)


def _full_service() -> Flask:
    from service.app import create_app  # imported here: a receiving process never loads it

    return create_app()
