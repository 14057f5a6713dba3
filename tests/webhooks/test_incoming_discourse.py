"""POST /webhooks/discourse: what is refused (and stores nothing), what is accepted once."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from core.models import InboxEvent
from core.store import get_store
from service.app import create_app
from tests.webhooks.incoming_support import (
    URL,
    inbox_count,
    incoming_app,
    incoming_client,
    incoming_settings,
    load_fixture,
    sign,
    wire_body,
)
from webhooks.incoming import counters

__all__ = ["incoming_app", "incoming_client", "incoming_settings"]  # fixtures used here


def delivery(name: str = "post__post_created") -> tuple[dict[str, str], bytes, dict[str, Any]]:
    data = load_fixture(name)
    return dict(data["headers"]), wire_body(data["body"]), data["body"]


def post(client: FlaskClient, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
    response = client.post(URL, data=raw, headers=headers)
    return response.status_code, response.get_json()


def test_missing_signature_is_refused(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    headers, raw, _ = delivery()
    del headers["X-Discourse-Event-Signature"]
    status, answer = post(incoming_client, headers, raw)
    assert status == 401
    assert "signature" in answer["error"].lower()
    assert inbox_count(incoming_app) == 0


def test_wrong_signature_is_refused(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    headers, raw, _ = delivery()
    headers["X-Discourse-Event-Signature"] = sign(raw, "another-secret-entirely")
    assert post(incoming_client, headers, raw)[0] == 401
    # A body changed after signing fails too.
    headers, raw, _ = delivery()
    assert post(incoming_client, headers, raw.replace(b'"system"', b'"mallory"'))[0] == 401
    # Non-ASCII in the header is a wrong signature too, never a server error.
    headers["X-Discourse-Event-Signature"] = "sha256=\u00e9" + "0" * 63
    assert post(incoming_client, headers, raw)[0] == 401
    assert inbox_count(incoming_app) == 0


def test_no_secret_configured_refuses_everything(
    incoming_settings: dict[str, dict[str, Any]],
) -> None:
    incoming_settings["forum"]["webhook_secret"] = ""
    from core.migrate import upgrade

    upgrade(incoming_settings["store"]["url"])
    app = create_app(incoming_settings)
    headers, raw, _ = delivery()
    status, answer = post(app.test_client(), headers, raw)
    assert status == 401
    assert "no forum webhook secret" in answer["error"]
    assert inbox_count(app) == 0


def test_another_instance_is_forbidden(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    headers, raw, _ = delivery()
    headers["X-Discourse-Instance"] = "https://other-forum.example.org"
    status, answer = post(incoming_client, headers, raw)
    assert status == 403
    assert "X-Discourse-Instance" in answer["error"]
    assert inbox_count(incoming_app) == 0


def test_a_field_the_inbox_needs_is_checked_before_recording(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, _, body = delivery()
    broken = copy.deepcopy(body)
    broken["post"]["id"] = "x"  # the event's id and subject are made of it
    raw = wire_body(broken)
    headers["X-Discourse-Event-Signature"] = sign(raw)
    status, answer = post(incoming_client, headers, raw)
    assert status == 400
    assert answer["error"] == "$.post.id: expected an integer"
    assert inbox_count(incoming_app) == 0


def test_malformed_json_and_mismatched_type_are_bad_requests(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, _, _ = delivery()
    raw = b'{"post": '
    headers["X-Discourse-Event-Signature"] = sign(raw)
    assert post(incoming_client, headers, raw)[0] == 400
    headers, raw, _ = delivery()
    headers["X-Discourse-Event-Type"] = "topic"
    assert post(incoming_client, headers, raw)[0] == 400
    headers["X-Discourse-Event-Type"] = "post"
    headers["X-Discourse-Event"] = "not_a_discourse_event"
    status, answer = post(incoming_client, headers, raw)
    assert status == 400
    assert "not_a_discourse_event" in answer["error"]
    assert inbox_count(incoming_app) == 0


def test_a_body_in_another_encoding_than_utf_8_is_refused(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, raw, _ = delivery()
    # Valid JSON in UTF-16, which json.loads alone would accept: JSON between systems is
    # UTF-8, and the body's text is what the inbox keeps.
    raw = raw.decode().encode("utf-16")
    headers["X-Discourse-Event-Signature"] = sign(raw)
    status, answer = post(incoming_client, headers, raw)
    assert status == 400
    assert answer["error"].startswith("body is not UTF-8 JSON")
    assert inbox_count(incoming_app) == 0


def test_the_body_is_kept_as_its_text_came(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, _, body = delivery()
    body["post"]["cooked"] = "<p>caf\u00e9 \u2615</p>"
    raw = json.dumps(body, ensure_ascii=False, indent=1).encode()  # spacing of its own
    headers["X-Discourse-Event-Signature"] = sign(raw)
    assert post(incoming_client, headers, raw)[0] == 202
    with get_store(incoming_app).session() as session:
        [row] = session.scalars(select(InboxEvent)).all()
        assert row.payload == body
        [stored] = session.execute(text("SELECT payload FROM inbox_events")).scalars().all()
    assert stored == raw.decode()  # not written again


def test_too_large_body_is_413_json(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    headers, _, _ = delivery()
    raw = b'{"post": "' + b"x" * (1024 * 1024) + b'"}'
    headers["X-Discourse-Event-Signature"] = sign(raw)
    headers["Content-Length"] = str(len(raw))
    status, answer = post(incoming_client, headers, raw)
    assert status == 413
    assert answer == {"error": "request body too large"}
    assert inbox_count(incoming_app) == 0


def test_ping_is_answered(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    headers, _, _ = delivery()
    raw = b'{"ping":"OK"}'
    headers.update(
        {
            "X-Discourse-Event": "ping",
            "X-Discourse-Event-Type": "ping",
            "X-Discourse-Event-Signature": sign(raw),
        }
    )
    status, _ = post(incoming_client, headers, raw)
    assert status == 200
    assert inbox_count(incoming_app) == 0


def test_known_answer_vector_from_discourse() -> None:
    # Discourse's own spec: this secret and body give this signature.
    expected = "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    assert sign(b'{"ping":"OK"}', "my_lovely_secret_for_web_hook") == expected


def test_unsupported_real_event_is_200_logged_apart_and_counted(
    incoming_app: Flask, incoming_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    headers, _, _ = delivery()
    raw = wire_body({"tag": {"id": 1, "name": "flood", "topic_count": 0}})
    headers.update(
        {
            "X-Discourse-Event": "tag_created",
            "X-Discourse-Event-Type": "tag",
            "X-Discourse-Event-Signature": sign(raw),
        }
    )
    before = counters.unsupported_counts().get("tag_created", 0)
    with caplog.at_level(logging.INFO, logger="constellate.webhooks.unsupported"):
        status, answer = post(incoming_client, headers, raw)
    assert status == 200
    assert answer == {"accepted": False, "unsupported": "tag_created"}
    assert counters.unsupported_counts()["tag_created"] == before + 1
    assert [r.name for r in caplog.records if "tag_created" in r.getMessage()] == [
        "constellate.webhooks.unsupported"
    ]
    assert inbox_count(incoming_app) == 0


def test_redelivery_with_the_same_id_is_a_duplicate(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, raw, _ = delivery()
    assert post(incoming_client, headers, raw) == (202, {"accepted": True, "duplicate": False})
    assert post(incoming_client, headers, raw) == (200, {"accepted": True, "duplicate": True})
    assert inbox_count(incoming_app) == 1


def test_retry_with_a_new_delivery_id_is_a_duplicate(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    headers, raw, _ = delivery("post__post_edited")
    assert post(incoming_client, headers, raw)[0] == 202
    # Discourse's automatic retry: a new WebHookEvent id, the same body and signature.
    headers["X-Discourse-Event-Id"] = str(int(headers["X-Discourse-Event-Id"]) + 100)
    assert post(incoming_client, headers, raw) == (200, {"accepted": True, "duplicate": True})
    assert inbox_count(incoming_app) == 1


def test_different_events_are_each_kept(incoming_app: Flask, incoming_client: FlaskClient) -> None:
    for name in ("post__post_created", "post__post_edited", "post__post_destroyed"):
        headers, raw, _ = delivery(name)
        assert post(incoming_client, headers, raw)[0] == 202
    assert inbox_count(incoming_app) == 3
