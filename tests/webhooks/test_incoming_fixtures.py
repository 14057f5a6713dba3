"""Each recorded Discourse delivery (tests/fixtures/discourse) becomes the expected Event,
both through the pure normaliser and through the endpoint into the inbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import schemas
from core.models import InboxEvent
from core.store import get_store
from tests.webhooks.incoming_support import (
    FIXTURES,
    incoming_app,
    incoming_client,
    incoming_settings,
    load_fixture,
    wire_body,
)
from webhooks.incoming.discourse_events import READ, content_key, normalise

__all__ = ["incoming_app", "incoming_client", "incoming_settings"]  # fixtures used here

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)

# fixture -> (event_id, subject, actor, occurred_at)
EXPECTED = {
    "group_user__user_added_to_group": (
        "forum:user_added_to_group:group:15:user:1:e7bf956b121f35b3",
        "group:15:user:1",
        None,
        "2026-11-21T05:40:17.999000+00:00",
    ),
    "like__post_liked": (
        "forum:post_liked:post:1:user:1",
        "post:1",
        "alicecap",
        RECEIVED.isoformat(),  # a like carries no time of its own
    ),
    "post__post_created": (
        "forum:post_created:post:2",
        "post:2",
        "system",
        "2026-11-21T05:40:17.957000+00:00",
    ),
    "post__post_destroyed": (
        "forum:post_destroyed:post:2:4eb9ba1e34bec800",
        "post:2",
        None,
        "2026-11-21T05:40:17.970000+00:00",  # deleted_at
    ),
    "post__post_edited": (
        "forum:post_edited:post:2:v2:2026-11-21T05:40:17.965Z",
        "post:2",
        None,
        "2026-11-21T05:40:17.965000+00:00",  # updated_at
    ),
    "post__post_recovered": (
        "forum:post_recovered:post:2:4e4786b6a75acef8",
        "post:2",
        None,
        "2026-11-21T05:40:17.965000+00:00",
    ),
    "solved__accepted_solution": (
        "forum:accepted_solution:post:2:delivery:14",
        "post:2",
        None,
        "2026-11-21T05:40:17.965000+00:00",
    ),
    "topic__topic_created": (
        "forum:topic_created:topic:1",
        "topic:1",
        "system",
        "2026-11-21T05:40:17.951000+00:00",
    ),
    "topic__topic_edited": (
        "forum:topic_edited:topic:1:df5f487fd4cc7b2b",
        "topic:1",
        None,
        RECEIVED.isoformat(),  # a topic carries no updated_at: an edit is not its creation
    ),
    "user__user_created": (
        "forum:user_created:user:1",
        "user:1",
        "alicecap",
        "2026-11-21T05:40:17.984000+00:00",
    ),
    "user_badge__user_badge_granted": (
        "forum:user_badge_granted:user_badge:1:c7cdcb81c97c773e",
        "user_badge:1",
        None,
        "2026-11-21T05:40:17.993000+00:00",
    ),
}

NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(EXPECTED) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_fixture_normalises(name: str) -> None:
    data = load_fixture(name)
    headers, body = data["headers"], data["body"]
    event_name = headers["X-Discourse-Event"]
    body_type = name.split("__")[0]
    assert READ[event_name] == body_type == headers["X-Discourse-Event-Type"]
    assert not list(schemas.validator(f"discourse/{body_type}").iter_errors(body))
    raw = wire_body(body)
    event = normalise(
        event_name, body, raw, delivery_id=headers["X-Discourse-Event-Id"], received=RECEIVED
    )
    event_id, subject, actor, occurred_at = EXPECTED[name]
    assert event.kind == f"forum.{event_name}"
    assert event.source == "forum"
    assert (event.event_id, event.subject, event.actor) == (event_id, subject, actor)
    assert event.occurred_at.isoformat() == occurred_at
    assert event.delivery_id == headers["X-Discourse-Event-Id"]
    assert event.payload == body
    # A re-accept repeats the first accept's body: solved events have no content key.
    solved = body_type == "solved"
    assert event.dedupe_key == (None if solved else content_key(event_name, raw))


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_accepted_into_the_inbox(
    name: str, incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    data = load_fixture(name)
    raw = wire_body(data["body"])
    response = incoming_client.post("/webhooks/discourse", data=raw, headers=data["headers"])
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"accepted": True, "duplicate": False}
    with get_store(incoming_app).session() as session:
        rows = session.execute(select(InboxEvent)).scalars().all()
    assert [(row.event_id, row.kind, row.state) for row in rows] == [
        (EXPECTED[name][0], f"forum.{data['headers']['X-Discourse-Event']}", "pending")
    ]
    assert rows[0].payload == data["body"]


def test_two_quick_edits_with_the_same_version_are_two_events() -> None:
    """Discourse keeps the version for edits within its grace period ("ninja edits")."""
    body = load_fixture("post__post_edited")["body"]
    later = {
        "post": {**body["post"], "raw": "typo fixed", "updated_at": "2026-11-21T05:41:02.001Z"}
    }
    first, second = (
        normalise("post_edited", b, b"{}", delivery_id=None, received=datetime.now(UTC))
        for b in (body, later)
    )
    assert first.event_id != second.event_id


def test_a_solution_accepted_again_is_a_new_event(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    """Accept, unaccept, accept again: the second accept's body equals the first's, and
    only its delivery id differs; it must reach the inbox (credit is given again)."""
    data = load_fixture("solved__accepted_solution")
    raw = wire_body(data["body"])
    for delivery in ("14", "16"):
        headers = {**data["headers"], "X-Discourse-Event-Id": delivery}
        response = incoming_client.post("/webhooks/discourse", data=raw, headers=headers)
        assert response.status_code == 202, response.get_json()
    # The same delivery sent again is still one event.
    response = incoming_client.post("/webhooks/discourse", data=raw, headers=data["headers"])
    assert response.get_json() == {"accepted": True, "duplicate": True}
    with get_store(incoming_app).session() as session:
        ids = session.execute(select(InboxEvent.event_id).order_by(InboxEvent.id)).scalars().all()
    assert ids == [
        "forum:accepted_solution:post:2:delivery:14",
        "forum:accepted_solution:post:2:delivery:16",
    ]
