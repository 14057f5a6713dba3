"""A webhook that arrives while a handler waits on a platform is stored, not refused.

On SQLite a write transaction holds the database's only write lock; a handler that
wrote something and then waits on the wiki must not keep it, or every webhook in the
meantime fails after the busy timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from community.activity import record_post
from community.handling import Handler, HandlerContext
from core.config import load_config
from core.events import Event
from core.store import get_store
from service.worker import Worker
from tests.webhooks.incoming_support import (
    inbox_count,
    incoming_app,
    incoming_client,
    incoming_settings,
    load_fixture,
    wire_body,
)

__all__ = ["incoming_app", "incoming_client", "incoming_settings"]  # fixtures used here


class StallingWiki:
    """An HTTP server whose every answer waits until the test releases it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        stall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stall.arrived.set()
                stall.release.wait(30)
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StallingWiki:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling_wiki() -> Iterator[StallingWiki]:
    with StallingWiki() as wiki:
        yield wiki


@pytest.fixture
def incoming_settings_stalling(
    incoming_settings: dict[str, dict[str, Any]], stalling_wiki: StallingWiki
) -> dict[str, dict[str, Any]]:
    incoming_settings["wiki"]["url"] = stalling_wiki.url
    incoming_settings["wiki"]["max_retries"] = 0
    return incoming_settings


def post(client: FlaskClient, name: str) -> int:
    data = load_fixture(name)
    response = client.post(
        "/webhooks/discourse", data=wire_body(data["body"]), headers=data["headers"]
    )
    return response.status_code


def test_a_webhook_is_stored_while_a_handler_waits_on_the_wiki(
    incoming_settings_stalling: dict[str, dict[str, Any]],
    incoming_app: Flask,
    incoming_client: FlaskClient,
    stalling_wiki: StallingWiki,
) -> None:
    assert post(incoming_client, "post__post_created") == 202

    def write_then_ask_the_wiki(event: Event, ctx: HandlerContext) -> None:
        record_post(event, ctx)  # a store write: on SQLite this takes the write lock
        ctx.wiki().ping()  # ... and this waits until the test releases the wiki

    def handlers_for(kind: str) -> tuple[Handler, ...]:
        return (write_then_ask_the_wiki,)

    settings = load_config(environ={}, overrides=incoming_settings_stalling)
    worker = Worker(get_store(incoming_app), settings, handlers_for=handlers_for)
    working = threading.Thread(target=worker.run_once)
    working.start()
    try:
        assert stalling_wiki.arrived.wait(10), "the handler never asked the wiki"
        # The handler is now inside its platform call, after its store write.
        assert post(incoming_client, "topic__topic_created") == 202
        assert inbox_count(incoming_app) == 2
    finally:
        stalling_wiki.release.set()
        working.join(30)
    assert not working.is_alive()
