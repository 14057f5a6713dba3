"""The receiver checks only what the inbox row needs; the worker checks the full schema,
and a body failing it becomes a dead event with its reason, never an error to Discourse."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core import inbox
from core.models import InboxEvent
from core.store import get_store
from service.worker import Worker
from tests.webhooks.incoming_support import (
    FIXTURES,
    URL,
    incoming_app,
    incoming_client,
    incoming_settings,
    load_fixture,
    sign,
    wire_body,
)
from webhooks.incoming.discourse_checks import quick_problem

__all__ = ["incoming_app", "incoming_client", "incoming_settings"]  # fixtures used here


def send(client: FlaskClient, fixture: str, change: Any) -> tuple[int, Any]:
    data = load_fixture(fixture)
    body = copy.deepcopy(data["body"])
    change(body)
    raw = wire_body(body)
    headers = dict(data["headers"]) | {"X-Discourse-Event-Signature": sign(raw)}
    response = client.post(URL, data=raw, headers=headers)
    return response.status_code, response.get_json()


def test_a_body_failing_the_full_schema_is_accepted_and_dies_in_the_worker_with_its_reason(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    def wrong_topic(body: dict[str, Any]) -> None:
        body["post"]["topic_id"] = "x"  # not read to make the row: the schema's to find

    status, answer = send(incoming_client, "post__post_created", wrong_topic)
    assert (status, answer["accepted"]) == (202, True)
    store = get_store(incoming_app)
    worker = Worker(store, incoming_app.config["CONSTELLATE"], sleep=lambda _s: None)
    assert worker.run_once()
    with store.session() as session:
        dead = inbox.listing(session, state="dead")  # what the dashboard's dead list reads
        assert len(dead) == 1
        assert dead[0].reason == (
            "the body does not match schemas/discourse/post: "
            "$.post.topic_id: 'x' is not of type 'integer'"
        )
        assert dead[0].attempts == 1  # dead at once: retrying cannot mend a body


def test_a_valid_body_passes_the_workers_check(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    status, _ = send(incoming_client, "post__post_created", lambda body: None)
    assert status == 202
    store = get_store(incoming_app)
    worker = Worker(
        store,
        incoming_app.config["CONSTELLATE"],
        sleep=lambda _s: None,
        handlers_for=lambda _kind: (),
    )
    assert worker.run_once()
    with store.session() as session:
        row = session.scalars(select(InboxEvent)).one()
    assert row.state != "dead"
    assert row.reason is None or "schemas/discourse" not in row.reason


@pytest.mark.parametrize(
    ("event_name", "body", "problem"),
    [
        ("post_created", [], "$: the body is not a JSON object"),
        ("post_created", {"topic": {}}, "$: 'post' is a required object"),
        ("post_created", {"post": {"id": 1}}, "$.post.username: expected a string"),
        ("post_edited", {"post": {"id": True}}, "$.post.id: expected an integer"),
        (
            "post_liked",
            {"like": {"post": {"id": 1}, "user": {"id": 2}}},
            "$.like.user.username: expected a string",
        ),
        (
            "user_added_to_group",
            {"group_user": {"group_id": 1}},
            "$.group_user.user_id: expected an integer",
        ),
        (
            "topic_created",
            {"topic": {"id": 3, "created_by": "ann"}},
            "$.topic.created_by: expected an object",
        ),
    ],
)
def test_the_quick_check_names_what_the_row_cannot_be_made_without(
    event_name: str, body: Any, problem: str
) -> None:
    assert quick_problem(event_name, body) == problem


@pytest.mark.parametrize("fixture", sorted(path.stem for path in FIXTURES.glob("*.json")))
def test_the_quick_check_passes_every_fixture_delivery(fixture: str) -> None:
    data = load_fixture(fixture)
    assert quick_problem(data["headers"]["X-Discourse-Event"], data["body"]) is None
