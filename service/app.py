"""The application factory. Nothing happens at import; each part registers itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

import dashboards
from core import clock as clocks
from core import forum_budget_ledgers, logs, store, wakeup
from core.clock import Clock
from core.config import MAX_REQUEST_BYTES, settings_for
from dashboards import connect_views, privacy_views
from service import readiness, receiving, scrape
from webhooks import incoming


def create_app(
    config: Mapping[str, Mapping[str, Any]] | None = None, *, clock: Clock | None = None
) -> Flask:
    """Build the service.

    Without ``config`` the configuration comes from ``$CONSTELLATE_CONFIG`` and
    ``CONSTELLATE_*`` variables; with it (tests), only defaults and ``config``
    count. Either way it is validated before anything starts. ``clock`` (the system's
    unless given) is the time of the app's requests, commands and worker threads.
    """
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
    forum_budget_ledgers.init_app(app)
    readiness.init_app(app)
    scrape.init_app(app)
    incoming.init_app(app)
    connect_views.init_app(app)
    privacy_views.init_app(app)
    dashboards.init_app(app)  # after every blueprint: it exempts the webhooks from CSRF
    wakeup.configure(settings)
    on_recorded = wakeup.notify
    if settings["worker"]["embedded"]:
        # Processing code (handlers, connectors, automations) is loaded only by a web
        # process that also processes: a receiving one stays small.
        from service import worker

        worker.init_app(app)

        def on_recorded() -> None:  # a webhook may be the first request: start the worker
            worker.start_embedded(app)
            wakeup.notify()

    receiving.put_in_front(app, on_recorded)
    app.cli = LazyCommands(app.name)
    return app


class LazyCommands(AppGroup):
    """``flask --app service.app <command>``'s commands (service/cli.py), imported when a
    command line asks for them: every command imports what it runs, which no web process
    needs."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            from service import cli

            for command in cli.COMMANDS:
                self.add_command(command)
            self._loaded = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)
