"""The web process with workers apart: webhooks reach the small receiving app, and the
rest of the service is loaded only at its first other request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from werkzeug.test import Client

from service.receiving import create_receiver
from tests.webhooks.incoming_support import (
    inbox_count,
    incoming_app,
    incoming_settings,
    load_fixture,
    sign,
    wire_body,
)
from webhooks.incoming.discourse import WebhooksFirst

__all__ = ["incoming_app", "incoming_settings"]  # fixtures used here

ROOT = Path(__file__).resolve().parents[2]
# What receiving must not load: Flask (the receiver is plain WSGI), SQLAlchemy (its rows
# go through the driver), the dashboards, the platforms' clients, the handlers, the
# worker and the Redis queue.
HEAVY = (
    "flask",
    "sqlalchemy",
    "dashboards.connect_views",
    "connectors.mediawiki",
    "community",
    "service.worker",
    "huey",
)


def test_webhooks_go_to_the_receiver_and_the_full_service_is_built_for_anything_else(
    incoming_app: Any, incoming_settings: dict[str, Any]
) -> None:
    built: list[int] = []

    def build_full() -> Any:
        built.append(1)
        return incoming_app

    front = Client(WebhooksFirst(create_receiver(incoming_settings), build_full))
    data = load_fixture("post__post_created")
    raw = wire_body(data["body"])
    headers = dict(data["headers"]) | {"X-Discourse-Event-Signature": sign(raw)}
    answer = front.post("/webhooks/discourse", data=raw, headers=headers)
    assert answer.status_code == 202
    assert answer.headers["X-Content-Type-Options"] == "nosniff"  # as every answer
    assert built == [] and inbox_count(incoming_app) == 1
    assert front.get("/healthz").status_code == 200
    assert front.get("/healthz").status_code == 200
    assert built == [1]  # once


def test_a_receiving_process_loads_none_of_the_heavy_parts(tmp_path: Path) -> None:
    config = tmp_path / "constellate.toml"
    config.write_text(
        '[service]\nsecret_key = "' + "s" * 40 + '"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n'
        '[forum]\nurl = "https://forum.example.org"\nwebhook_secret = "a-webhook-secret"\n'
        '[wiki]\nurl = "http://127.0.0.1:9"\nusername = "Bot@x"\npassword = "unused"\n'
        "[worker]\nembedded = false\n"
    )
    script = (
        "import json, sys\n"
        "from service.web import web_app\n"
        "app = web_app()\n"
        "print(json.dumps([type(app).__name__, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"CONSTELLATE_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    kind, modules = json.loads(done.stdout.splitlines()[-1])
    assert kind == "WebhooksFirst"
    loaded = [name for name in modules if name.startswith(HEAVY)]
    assert loaded == []
