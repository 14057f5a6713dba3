"""What the fuzzing found, pinned as plain examples: each was a server error (500), on
PostgreSQL or on both stores, and is now a clear 4xx (or accepted, when it was valid)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.models import InboxEvent
from core.store import get_store
from tests.api.conftest import FORUM_SECRET, FORUM_URL, WIKI_PUSH_SECRET
from tests.webhooks.incoming_support import load_fixture

WIKI_CHANGE = {
    "type": "log",
    "ns": 0,
    "title": "Flood Wardens Network",
    "pageid": 12,
    "revid": 0,
    "old_revid": 0,
    "rcid": 4321,
    "user": "Ana",
    "timestamp": "2030-01-02T03:04:05Z",
    "logtype": "move",
    "logaction": "move",
}


def signature(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def deliver(
    client: FlaskClient, name: str, body: Any, **headers: str
) -> tuple[int, dict[str, Any]]:
    """The recorded delivery ``name`` with ``body`` and ``headers`` in place of its own."""
    sent = {**load_fixture(name)["headers"], "X-Discourse-Instance": FORUM_URL, **headers}
    raw = json.dumps(body).encode()
    sent["X-Discourse-Event-Signature"] = signature(FORUM_SECRET, raw)
    answer = client.post("/webhooks/discourse", data=raw, headers=sent)
    return answer.status_code, answer.get_json()


def push(client: FlaskClient, change: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(change).encode()
    headers = {"X-Constellate-Signature": signature(WIKI_PUSH_SECRET, raw)}
    answer = client.post("/webhooks/wiki", data=raw, headers=headers)
    return answer.status_code, answer.get_json()


def inbox(app: Flask) -> list[InboxEvent]:
    with get_store(app).session() as session:
        return list(session.scalars(select(InboxEvent)))


def test_a_like_without_the_liker_id_is_refused_before_recording(receiver_app: Flask) -> None:
    body = load_fixture("like__post_liked")["body"]
    del body["like"]["user"]["id"]  # the like's event id is made from it
    status, answer = deliver(receiver_app.test_client(), "like__post_liked", body)
    # The receiver's quick check: the fields the inbox row is made of.
    assert (status, answer) == (400, {"error": "$.like.user.id: expected an integer"})


def test_a_nul_character_in_a_delivery_is_refused_on_every_store(receiver_app: Flask) -> None:
    body = load_fixture("post__post_created")["body"]
    body["post"]["raw"] = "before\x00after"  # PostgreSQL's JSON refuses \u0000
    status, answer = deliver(receiver_app.test_client(), "post__post_created", body)
    assert status == 400
    assert answer["error"] == (
        "the event cannot be stored: the body contains a NUL character (\\u0000)"
    )
    assert inbox(receiver_app) == []


def test_a_delivery_id_too_long_for_the_inbox_is_refused(receiver_app: Flask) -> None:
    body = load_fixture("post__post_created")["body"]
    client = receiver_app.test_client()
    status, answer = deliver(
        client, "post__post_created", body, **{"X-Discourse-Event-Id": "9" * 129}
    )
    assert status == 400
    assert answer["error"] == (
        "the event cannot be stored: its delivery_id would be longer than 128 characters"
    )
    status, _ = deliver(client, "post__post_created", body, **{"X-Discourse-Event-Id": "9" * 128})
    assert status == 202
    assert [row.delivery_id for row in inbox(receiver_app)] == ["9" * 128]


def test_a_long_username_is_refused_not_a_server_error(receiver_app: Flask) -> None:
    body = load_fixture("post__post_created")["body"]
    body["post"]["username"] = "u" * 256  # the actor column holds 255
    status, answer = deliver(receiver_app.test_client(), "post__post_created", body)
    assert status == 400
    assert "its actor would be longer than 255 characters" in answer["error"]


def test_a_wiki_change_dated_on_a_day_that_does_not_exist_is_refused(
    receiver_app: Flask,
) -> None:
    client = receiver_app.test_client()
    for stamp in ("0000-00-00T00:00:00Z", "2030-02-30T00:00:00Z"):
        status, answer = push(client, {**WIKI_CHANGE, "timestamp": stamp})
        assert status == 400, stamp
        assert answer["error"].startswith("the change cannot be stored: "), answer
    assert inbox(receiver_app) == []


def test_a_wiki_change_with_positional_log_parameters_is_accepted(receiver_app: Flask) -> None:
    # formatversion=2 writes a PHP list (old log entries' parameters) as a JSON array.
    status, answer = push(receiver_app.test_client(), {**WIKI_CHANGE, "logparams": ["Old", "1"]})
    assert (status, answer) == (202, {"accepted": True, "duplicate": False})
    [row] = inbox(receiver_app)
    assert row.event_id == "wiki:rc:4321"
    assert row.payload["log_params"] == {"0": "Old", "1": "1"}
