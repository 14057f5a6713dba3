"""Fixtures for the core: settings with a temporary SQLite store, the app and its client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.migrate import upgrade
from sandbox.wiki import free_port
from service.app import create_app


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A valid configuration whose wiki does not answer; tests swap in what they need."""
    return {
        "service": {"secret_key": "s" * 40},
        "store": {"url": f"sqlite:///{tmp_path / 'constellate.db'}"},
        "worker": {"embedded": False},  # tests drive workers themselves
        "wiki": {
            "url": f"http://127.0.0.1:{free_port()}",
            "script_path": "/",
            "username": "Bot@constellate",
            "password": "wiki-bot-password-not-real",
        },
    }


@pytest.fixture
def app(settings: dict[str, dict[str, Any]]) -> Flask:
    upgrade(settings["store"]["url"])
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
