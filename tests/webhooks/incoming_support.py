"""Shared by the incoming webhook tests: an app with a migrated SQLite store, fixtures, signing."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core.migrate import upgrade
from core.models import InboxEvent
from core.store import get_store
from sandbox.wiki import free_port
from service.app import create_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "discourse"
FORUM_URL = "https://forum.example.org"
SECRET = "fixture-webhook-secret"  # the secret the fixtures' signatures were made with

URL = "/webhooks/discourse"  # the receiver under test


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return data


def wire_body(body: Any) -> bytes:
    """The body as Discourse sends it: compact JSON, as the fixtures were signed."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def inbox_count(app: Flask) -> int:
    with get_store(app).session() as session:
        return int(session.execute(select(func.count(InboxEvent.id))).scalar_one())


@pytest.fixture
def incoming_settings(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {
        "service": {"secret_key": "s" * 40},
        "store": {"url": f"sqlite:///{tmp_path / 'constellate.db'}"},
        "wiki": {
            "url": f"http://127.0.0.1:{free_port()}",
            "script_path": "/",
            "username": "Bot@constellate",
            "password": "wiki-bot-password-not-real",
        },
        "forum": {"url": FORUM_URL, "webhook_secret": SECRET},
        "worker": {"embedded": False},
    }


@pytest.fixture
def incoming_app(incoming_settings: dict[str, dict[str, Any]]) -> Flask:
    upgrade(incoming_settings["store"]["url"])
    return create_app(incoming_settings)


@pytest.fixture
def incoming_client(incoming_app: Flask) -> FlaskClient:
    return incoming_app.test_client()
