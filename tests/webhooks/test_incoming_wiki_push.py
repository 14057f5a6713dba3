"""POST /webhooks/wiki: a signed push of a real recent change is the poll's event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from connectors.mediawiki.client import RC_PROPS
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import get_store
from service.app import create_app
from tests.conftest import SessionWiki
from tests.webhooks.incoming_support import inbox_count, sign
from webhooks.incoming.wiki_poll import poll_wiki

PUSH_SECRET = "wiki-push-secret-0123"
URL = "/webhooks/wiki"
# For tests that never reach the wiki.
OFFLINE_WIKI = {"url": "http://127.0.0.1:9", "script_path": "/", "username": "B@x", "password": "p"}


def make_app(tmp_path: Path, wiki_config: dict[str, Any], push_secret: str) -> Flask:
    settings: dict[str, dict[str, Any]] = {
        "service": {"secret_key": "s" * 40},
        "store": {"url": f"sqlite:///{tmp_path / 'push.db'}"},
        "wiki": {**wiki_config, "push_secret": push_secret},
        "worker": {"embedded": False},
    }
    upgrade(settings["store"]["url"])
    return create_app(settings)


def latest_change_of(wiki: SessionWiki, title: str) -> dict[str, Any]:
    """The page's newest recent-changes entry, exactly as the wiki's API lists it."""
    params: dict[str, str | int] = {
        "action": "query",
        "list": "recentchanges",
        "rctitle": title,
        "rcprop": RC_PROPS,
        "rclimit": 1,
        "format": "json",
        "formatversion": 2,
    }
    answer = requests.get(wiki.api, params=params, timeout=30).json()
    entry: dict[str, Any] = answer["query"]["recentchanges"][0]
    return entry


def test_push_is_off_without_a_secret(tmp_path: Path) -> None:
    app = make_app(tmp_path, OFFLINE_WIKI, "")
    raw = b"{}"
    response = app.test_client().post(URL, data=raw, headers={"X-Constellate-Signature": sign(raw)})
    assert response.status_code == 404
    assert inbox_count(app) == 0


def test_a_pushed_change_and_its_poll_are_one_event(
    wiki: SessionWiki, wiki_config: dict[str, Any], tmp_path: Path
) -> None:
    app = make_app(tmp_path, wiki_config, PUSH_SECRET)
    store = get_store(app)
    settings = app.config["CONSTELLATE"]
    poll_wiki(store, settings, client=wiki.bot())  # first run: the cursor is "now"
    title = wiki.title("Pushed Page")
    wiki.human().edit(title, "Pushed text.", summary="create", mode="create")
    entry = latest_change_of(wiki, title)
    raw = json.dumps(entry).encode()
    client = app.test_client()

    assert (
        client.post(URL, data=raw, headers={"X-Constellate-Signature": "sha256=00"}).status_code
        == 401
    )
    bad = json.dumps({**entry, "rcid": "x"}).encode()
    refused = client.post(
        URL, data=bad, headers={"X-Constellate-Signature": sign(bad, PUSH_SECRET)}
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "$.rcid: 'x' is not of type 'integer'"
    assert inbox_count(app) == 0

    pushed = client.post(URL, data=raw, headers={"X-Constellate-Signature": sign(raw, PUSH_SECRET)})
    assert pushed.status_code == 202
    report = poll_wiki(store, settings, client=wiki.bot())
    assert report.duplicates >= 1
    with store.session() as session:
        rows = session.execute(
            select(InboxEvent.event_id, InboxEvent.kind).where(
                InboxEvent.subject == f"page:{title}"
            )
        ).all()
    assert [tuple(row) for row in rows] == [(f"wiki:rc:{entry['rcid']}", "wiki.new")]


@pytest.mark.parametrize("header", ["", "sha256=", "md5=abc"])
def test_malformed_signatures_are_refused(tmp_path: Path, header: str) -> None:
    app = make_app(tmp_path, OFFLINE_WIKI, PUSH_SECRET)
    response = app.test_client().post(URL, data=b"{}", headers={"X-Constellate-Signature": header})
    assert response.status_code == 401
    assert inbox_count(app) == 0
