"""The app factory, liveness and readiness, and secret redaction in logs."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connectors.discourse import ForumClient
from core.errors import ConfigError
from core.forum_budget import BudgetExhausted
from sandbox.forum.server import ForumServer
from sandbox.wiki import free_port
from service import readiness as health
from service.app import create_app


def test_importing_the_app_does_nothing() -> None:
    """No configuration is read and nothing connects when service.app is imported."""
    result = subprocess.run(
        [sys.executable, "-c", "import service.app, service.main"],
        env={"CONSTELLATE_WIKI_TIMEOUT": "not-a-number", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_invalid_configuration_stops_the_start(settings: dict[str, Any]) -> None:
    settings["wiki"]["maxlag"] = "five"
    with pytest.raises(ConfigError, match=r"^wiki.maxlag: 'five' is not valid"):
        create_app(settings)


def test_healthz_says_the_process_is_alive(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_names_the_unreachable_wiki(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False
    assert body["failed"] == ["wiki"]
    assert body["checks"]["store"] == {"ok": True, "detail": "answers"}
    assert body["checks"]["wiki"]["error"].startswith("Unavailable")
    assert body["checks"]["forum"] == {"ok": True, "detail": "not configured"}


def test_a_store_folder_that_cannot_exist_stops_the_start(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings["store"]["url"] = f"sqlite:///{blocker}/constellate.db"
    with pytest.raises(ConfigError, match=r"^store.url: cannot create the folder .*a-file"):
        create_app(settings)


def test_readyz_names_every_failing_part(settings: dict[str, Any], tmp_path: Path) -> None:
    settings["store"]["url"] = f"sqlite:///{tmp_path}/gone/constellate.db"
    settings["forum"] = {
        "url": f"http://127.0.0.1:{free_port()}",
        "api_username": "system",
        "api_key": "forum-api-key-not-real",
    }
    app = create_app(settings)
    (tmp_path / "gone").rmdir()  # the store's folder disappears under the running service
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["failed"] == ["store", "wiki", "forum"]
    assert body["checks"]["store"]["error"].startswith("OperationalError")
    assert body["checks"]["forum"]["error"].startswith("Unavailable")
    assert "forum-api-key-not-real" not in response.get_data(as_text=True)


def test_readyz_is_ready_with_the_real_wiki(
    settings: dict[str, Any], wiki_config: dict[str, Any]
) -> None:
    settings["wiki"] = wiki_config
    response = create_app(settings).test_client().get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body == {
        "ready": True,
        "failed": [],
        "checks": {
            "store": {"ok": True, "detail": "answers"},
            "wiki": {"ok": True, "detail": body["checks"]["wiki"]["detail"]},
            "forum": {"ok": True, "detail": "not configured"},
        },
    }
    assert "MediaWiki 1." in body["checks"]["wiki"]["detail"]


def test_secrets_never_reach_the_log(settings: dict[str, Any]) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        create_app(settings)
        password = settings["wiki"]["password"]
        logging.getLogger("constellate.test").warning("login with %s failed", password)
        logging.getLogger("constellate.test").warning(f"key {settings['service']['secret_key']}")
        try:
            raise RuntimeError(f"could not log in with {password}")
        except RuntimeError:
            logging.getLogger("constellate.test").exception("login failed")
    finally:
        root.removeHandler(handler)
    output = stream.getvalue()
    assert "login with ******** failed" in output
    assert "RuntimeError: could not log in with ********" in output  # tracebacks too
    assert settings["wiki"]["password"] not in output
    assert settings["service"]["secret_key"] not in output


def test_readyz_reuses_platform_answers_for_a_while(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anyone may ask /readyz; it must not spend the forum API budget on every request."""
    settings["forum"] = {"url": "http://forum.example.org", "api_username": "s", "api_key": "k"}
    asked: list[str] = []
    now = [1000.0]

    def probe_forum(_cfg: Any) -> str:
        asked.append("forum")
        return "Forum"

    monkeypatch.setattr(health, "_probe_forum", probe_forum)
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    client = create_app(settings).test_client()
    for _ in range(3):
        assert client.get("/readyz").get_json()["checks"]["forum"] == {
            "ok": True,
            "detail": "Forum",
        }
    assert asked == ["forum"]
    now[0] += health.PLATFORM_PROBE_TTL + 1
    client.get("/readyz")
    assert asked == ["forum", "forum"]


def test_a_spent_forum_budget_is_no_readiness_failure(settings: dict[str, Any]) -> None:
    """At the forum's limit every request of the minute is spoken for: the probe is not
    made, and the forum is not reported down for our own pacing."""
    with ForumServer(rate_limit_per_minute=2) as server:
        settings["forum"] = {
            "url": server.url,
            "api_username": server.api_username,
            "api_key": server.api_key,
            "requests_per_minute": 2,
            "rate_limit_wait_budget": 0,  # no waiting for the next minute: refused at once
        }
        app = create_app(settings)
        with app.app_context():
            client = ForumClient(app.config["CONSTELLATE"]["forum"])
            with pytest.raises(BudgetExhausted):
                for _ in range(3):
                    client.ping()
        checks = app.test_client().get("/readyz").get_json()["checks"]
    assert checks["forum"]["ok"] is True
    assert checks["forum"]["detail"].startswith("not asked: forum budget: no request free")
