"""ACCEPTANCE: a forum reply travels webhook -> inbox -> embedded worker -> activity row,
over real HTTP, exactly once however many times Discourse delivers it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from community.activity import ForumPostActivity
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import get_store
from sandbox.forum import webhooks
from sandbox.wiki import free_port
from service.app import create_app
from service.worker import EMBEDDED_KEY
from tests.conftest import SessionForum

SECRET = "end-to-end-webhook-secret"


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class Service:
    app: Flask
    url: str


def wait_for(condition: Callable[[], Any], what: str, limit: float = 15.0) -> Any:
    """Poll ``condition`` (the worker runs in another thread); fail naming ``what``."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def service(tmp_path: Path, forum: SessionForum) -> Iterator[Service]:
    settings: dict[str, dict[str, Any]] = {
        "service": {"secret_key": "s" * 40},
        "store": {"url": f"sqlite:///{tmp_path / 'constellate.db'}"},
        "wiki": {
            "url": f"http://127.0.0.1:{free_port()}",
            "script_path": "/",
            "username": "Bot@constellate",
            "password": "wiki-bot-password-not-real",
        },
        # The service's own forum account is not the one posting, so nothing is an echo.
        "forum": {
            "url": forum.url,
            "webhook_secret": SECRET,
            "api_username": "constellate_bot",
            "api_key": forum.api_key,
        },
        # The wiki above does not answer, so its poller is off (tests/webhooks covers it).
        # Its own reading of the shared forum's history is not what this test is about.
        "worker": {
            "embedded": True,
            "poll_seconds": 0.2,
            "wiki_poll_seconds": 0,
            "backfill_on_first_start": False,
        },
    }
    upgrade(settings["store"]["url"])
    app = create_app(settings)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Service(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        embedded = app.extensions.get(EMBEDDED_KEY)
        if embedded is not None:
            embedded.stop.set()
            embedded.thread.join(timeout=10)
        get_store(app).dispose()


def inbox_rows(app: Flask, event_id: str) -> list[InboxEvent]:
    with get_store(app).session() as session:
        query = select(InboxEvent).where(InboxEvent.event_id == event_id)
        return list(session.execute(query).scalars().all())


def activity_rows(app: Flask, post_id: int) -> list[ForumPostActivity]:
    with get_store(app).session() as session:
        query = select(ForumPostActivity).where(ForumPostActivity.post_id == post_id)
        return list(session.execute(query).scalars().all())


@pytest.fixture
def hook(service: Service, forum: SessionForum) -> Iterator[dict[str, Any]]:
    """A webhook on the session's forum pointing at the service; removed afterwards."""
    admin = forum.client()
    hook: dict[str, Any] = admin._post(
        "/admin/api/web_hooks.json",
        **{
            "web_hook[payload_url]": f"{service.url}/webhooks/discourse",
            "web_hook[secret]": SECRET,
            "web_hook[wildcard_web_hook]": "true",
            "web_hook[active]": "true",
        },
    )["web_hook"]
    yield hook
    admin._delete(f"/admin/api/web_hooks/{hook['id']}.json")


def test_a_reply_reaches_the_activity_table_once(
    service: Service, forum: SessionForum, hook: dict[str, Any]
) -> None:
    admin = forum.client()
    username = forum.name("erin")
    admin.create_user(
        "Erin Tester",
        username,
        f"{username}@example.org",
        "a-long-password-e2e",
        active="true",
        approved="true",
    )
    erin = forum.client(username)
    category = admin.categories()[0]["id"]
    topic = admin.create_post(
        "A topic for the end-to-end test, long enough.",
        category_id=category,
        title=f"End to end pipeline topic {forum.name()}",
    )
    reply = erin.create_post(
        "A reply that must be recorded exactly once.", topic_id=topic["topic_id"]
    )
    assert webhooks.drain(forum.server)

    event_id = f"forum:post_created:post:{reply['id']}"
    done = wait_for(
        lambda: [r for r in inbox_rows(service.app, event_id) if r.state == "done"],
        "the reply's event to be processed",
    )
    assert done[0].attempts == 1
    rows = activity_rows(service.app, reply["id"])
    assert [(r.topic_id, r.username, r.post_number, r.deleted) for r in rows] == [
        (topic["topic_id"], username, 2, False)
    ]

    # The same event again, three ways: ...
    events = admin._get(f"/admin/api/web_hook_events/{hook['id']}.json")["web_hook_events"]
    sent = next(
        e
        for e in events
        if json.loads(e["headers"]).get("X-Discourse-Event") == "post_created"
        and json.loads(e["request_body"])["post"]["id"] == reply["id"]
    )
    assert 200 <= sent["status"] < 300
    # 1. Discourse's manual redelivery: the same X-Discourse-Event-Id, headers and body.
    again = admin._post(f"/admin/api/web_hooks/{hook['id']}/events/{sent['id']}/redeliver.json")
    assert again["web_hook_event"]["status"] == 200  # the duplicate answer
    # 2. and 3. automatic retries: the same body and signature under new event ids.
    headers = json.loads(sent["headers"])
    for new_id in (sent["id"] + 1000, sent["id"] + 1001):
        headers["X-Discourse-Event-Id"] = str(new_id)
        answer = requests.post(
            f"{service.url}/webhooks/discourse",
            data=sent["request_body"].encode(),
            headers=headers,
            timeout=10,
        )
        assert (answer.status_code, answer.json()) == (200, {"accepted": True, "duplicate": True})

    # The worker has nothing new: one inbox row, processed once; one activity row.
    rows_now = inbox_rows(service.app, event_id)
    assert [(r.state, r.attempts, r.delivery_id) for r in rows_now] == [
        ("done", 1, str(sent["id"]))
    ]
    with get_store(service.app).session() as session:
        kinds = session.execute(
            select(InboxEvent.kind).where(InboxEvent.subject == f"post:{reply['id']}")
        ).scalars()
        assert list(kinds) == ["forum.post_created"]
    assert len(activity_rows(service.app, reply["id"])) == 1
