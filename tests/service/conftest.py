"""The wiring's tests use the core's fixtures: settings with a temporary SQLite store, the app
and its client."""

from tests.core.conftest import app, client, settings

__all__ = ["app", "client", "settings"]
