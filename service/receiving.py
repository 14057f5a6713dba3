"""Discourse's webhooks are answered by a plain WSGI receiver in front of Flask
(webhooks/incoming/discourse.py), in every web process.

With workers apart, a web process that only receives webhooks then loads what receiving
needs (the configuration, the database's driver, the inbox's insert, the signature and
the quick check) and not SQLAlchemy, Flask's app, the dashboards, the connectors, the
handlers or the automations: the full service is built at its first other request. With
the embedded worker (the one-process default) the full service is built at once, its
receiver in front, and the first request, a webhook's too, starts the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from core import logs, wakeup
from core.clock import Clock, of_app, system_clock
from core.config import MAX_REQUEST_BYTES, Settings, settings_for
from core.database import Database
from dashboards.headers import HSTS, SECURITY_HEADERS
from webhooks.incoming.discourse import DiscourseReceiver, WebhooksFirst

if TYPE_CHECKING:
    from flask import Flask


def create_receiver(
    config: Mapping[str, Mapping[str, Any]] | None = None, *, clock: Clock | None = None
) -> DiscourseReceiver:
    """The receiver alone, with a database of its own, for a process whose other requests
    go to a full service built later: configured as ``create_app`` is."""
    settings = settings_for(config)
    logs.configure(settings)
    wakeup.configure(settings)
    return receiver(settings, Database(settings["store"]["url"]), clock or system_clock)


def receiver(
    settings: Settings,
    database: Database,
    clock: Clock,
    on_recorded: Callable[[], None] = wakeup.notify,
) -> DiscourseReceiver:
    """The Discourse receiver, answering with the same headers as the rest of the service."""
    headers = list(SECURITY_HEADERS.items())
    if settings["dashboard"]["secure_cookies"]:
        headers.append(("Strict-Transport-Security", HSTS))
    return DiscourseReceiver(
        settings,
        database,
        clock,
        headers=headers,
        max_bytes=MAX_REQUEST_BYTES,
        on_recorded=on_recorded,
    )


def put_in_front(app: Flask, on_recorded: Callable[[], None] = wakeup.notify) -> None:
    """Serve the app's webhooks with its own receiver (its store's database and its
    clock), in front of Flask: the test client and every server reach it through
    ``app.wsgi_app``."""
    from core.store import get_store  # here: a receiving process loads no SQLAlchemy

    flask_app = app.wsgi_app
    front = receiver(app.config["CONSTELLATE"], get_store(app).database, of_app(app), on_recorded)
    app.wsgi_app = WebhooksFirst(front, lambda: flask_app)  # type: ignore[method-assign]
