"""The service under fuzzing: a store holding what every API route reads (the dashboard
benchmark's generator at a tiny size), an API token, and both webhook secrets set."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from bench.dashboard_data import build
from bench.health import API_USERNAME, WIKI_USERNAME
from bench.health_data import Shape
from core.migrate import upgrade
from core.store import get_store
from dashboards.models import ApiToken
from service.app import create_app

TOKEN = "cst_fuzzing-token-0123456789abcdefghijklmnopqrstuv"
REVOKED_TOKEN = "cst_revoked-token-0123456789abcdefghijklmnopqrstuv"
FORUM_URL = "https://forum.example.org"
FORUM_SECRET = "forum-webhook-secret-for-fuzzing"
WIKI_PUSH_SECRET = "wiki-push-secret-for-fuzzing"
# An address that never answers: nothing here may call the platforms.
NOWHERE = "http://127.0.0.1:9"
# Small enough to build in a few seconds, yet every list the API serves has rows.
SHAPE = Shape(posts=1_000, topics=100, people=200, organisations=6, constellations=6)


def service_settings(store_url: str) -> dict[str, dict[str, Any]]:
    return {
        "service": {"secret_key": "f" * 40, "base_url": "http://127.0.0.1:5080"},
        "store": {"url": store_url},
        "worker": {"embedded": False},
        "wiki": {
            "url": NOWHERE,
            "script_path": "/",
            "username": WIKI_USERNAME,
            "password": "not-a-real-password",
            "push_secret": WIKI_PUSH_SECRET,
        },
        "forum": {
            "url": FORUM_URL,
            "api_username": API_USERNAME,
            "api_key": "not-a-real-key",
            "webhook_secret": FORUM_SECRET,
        },
        "dashboard": {"secure_cookies": False},
    }


def token_hash(token: str) -> str:
    """As dashboards.tokens stores it: only the token's SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The service on a store where every API route has rows to list, with a live and a
    revoked API token."""
    built = build(tmp_path_factory.mktemp("fuzzed-store"), SHAPE, echo=lambda _: None)
    app = create_app(service_settings(built.url))
    with app.app_context(), get_store().session() as db:
        db.add(ApiToken(name="fuzzer", token_hash=token_hash(TOKEN)))
        db.add(ApiToken(name="retired", token_hash=token_hash(REVOKED_TOKEN), revoked=True))
    yield app
    get_store(app).dispose()


@pytest.fixture
def receiver_app(store_url: str) -> Iterator[Flask]:
    """The service on an empty store, SQLite then PostgreSQL (which, unlike SQLite, refuses
    text longer than its column): the receivers write to the inbox and the refusals."""
    upgrade(store_url)
    app = create_app(service_settings(store_url))
    yield app
    get_store(app).dispose()
