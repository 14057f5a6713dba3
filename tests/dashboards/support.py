"""The service app with the dashboard on, and logging a test client in without a forum."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.clock import Clock
from core.migrate import upgrade
from core.store import get_store
from dashboards.sessions import cookie_name, create_row
from sandbox.wiki import free_port
from service.app import create_app


def dashboard_app(
    store_url: str, *, csrf: bool = False, clock: Clock | None = None, **sections: dict[str, Any]
) -> Flask:
    """The service on a migrated store at ``store_url``; ``sections`` add to its settings.
    CSRF checks are off unless ``csrf`` (tests of the checks themselves turn them on);
    ``clock`` is the app's (the system's unless given)."""
    upgrade(store_url)
    dashboard = {"secure_cookies": False, **sections.pop("dashboard", {})}
    config: dict[str, dict[str, Any]] = {
        "service": {"secret_key": "s" * 40},
        "store": {"url": store_url},
        "worker": {"embedded": False},
        # A wiki that does not answer: pages never call it (tests needing one pass theirs).
        "wiki": {
            "url": f"http://127.0.0.1:{free_port()}",
            "script_path": "/",
            "username": "Bot@constellate",
            "password": "wiki-bot-password-not-real",
        },
        "dashboard": dashboard,
        **sections,
    }
    app = create_app(config, clock=clock)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=csrf)
    return app


def login(client: FlaskClient, username: str = "moderator", forum_user_id: int = 7) -> str:
    """Log ``client`` in as a moderator through a stored session (no forum involved);
    returns the session id the cookie carries."""
    app = client.application
    with app.app_context():
        sid, row = create_row(
            app, {"user": {"username": username, "forum_user_id": forum_user_id, "name": ""}}
        )
        with get_store().session() as db:
            db.add(row)
    client.set_cookie(cookie_name(app), sid)
    return sid
