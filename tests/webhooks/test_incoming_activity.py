"""The activity handlers: idempotent upserts that only move forward (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from community.activity import ForumPostActivity, WikiChangeActivity
from community.handling import HandlerContext
from core.config import DEFAULTS
from core.events import Event
from core.store import Store
from service.dispatch import handlers_for
from tests.webhooks.incoming_support import load_fixture, wire_body
from webhooks.incoming.discourse_events import normalise
from webhooks.incoming.wiki_events import reconcile_event

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)


def fixture_event(name: str, **post_changes: Any) -> Event:
    data = load_fixture(name)
    body = data["body"]
    for key, value in post_changes.items():
        body[next(iter(body))][key] = value
    return normalise(
        data["headers"]["X-Discourse-Event"],
        body,
        wire_body(body),
        delivery_id=data["headers"]["X-Discourse-Event-Id"],
        received=RECEIVED,
    )


def handle(store: Store, event: Event) -> None:
    # No wiki or forum configured: the handlers that would call one do nothing.
    settings = {"health": DEFAULTS["health"], "forum": {"url": ""}}
    with store.session() as session:
        for handler in handlers_for(event.kind):
            handler(event, HandlerContext(session, settings))


def posts(store: Store) -> list[tuple[Any, ...]]:
    with store.session() as session:
        rows = session.execute(select(ForumPostActivity)).scalars().all()
        return [
            (r.post_id, r.topic_id, r.category_id, r.username, r.post_number,
             r.reply_to_post_number, r.deleted)
            for r in rows
        ]  # fmt: skip


def test_post_lifecycle_and_repeats(store: Store) -> None:
    created = fixture_event("post__post_created")
    handle(store, created)
    handle(store, created)  # the same event twice: one row
    assert posts(store) == [(2, 1, 1, "system", 2, 1, False)]
    handle(store, fixture_event("post__post_destroyed"))
    assert posts(store)[0][-1] is True
    handle(store, fixture_event("post__post_recovered"))
    assert posts(store)[0][-1] is False


def test_an_older_event_does_not_undo_a_newer_one(store: Store) -> None:
    handle(store, fixture_event("post__post_edited", category_id=7))
    # The creation arrives late (delivery order is not guaranteed): it changes nothing.
    handle(store, fixture_event("post__post_created", category_id=3))
    assert posts(store)[0][2] == 7


def test_topic_events_apply_to_known_posts(store: Store) -> None:
    handle(store, fixture_event("post__post_created"))
    handle(store, fixture_event("topic__topic_edited", category_id=9))
    assert posts(store)[0][2] == 9
    handle(store, fixture_event("topic__topic_created"))  # nothing to change but harmless
    assert len(posts(store)) == 1


def test_wiki_changes_are_kept_once(store: Store) -> None:
    when = datetime(2030, 1, 2, tzinfo=UTC)
    event = Event(
        event_id="wiki:rc:41",
        kind="wiki.edit",
        source="wiki",
        subject="page:Flood Wardens",
        actor="Alice",
        occurred_at=when,
        delivery_id="41",
        payload={"rcid": 41, "revid": 90, "title": "Flood Wardens", "user": "Alice"},
    )
    handle(store, event)
    handle(store, event)
    handle(store, reconcile_event("Flood Wardens", 5, 90, when, "Alice"))
    with store.session() as session:
        rows = session.execute(select(WikiChangeActivity)).scalars().all()
        found = sorted((r.change_key, r.type, r.title, r.user, r.timestamp) for r in rows)
    assert found == [
        ("rc:41", "edit", "Flood Wardens", "Alice", when),
        ("rev:90", "reconcile", "Flood Wardens", "Alice", when),
    ]


def test_what_health_leaves_out_is_recorded_with_the_post(store: Store) -> None:
    handle(store, fixture_event("post__post_created"))
    handle(store, fixture_event("post__post_created", id=3, post_number=3, post_type=4))
    handle(
        store,
        fixture_event(
            "post__post_created",
            id=4,
            post_number=4,
            hidden=True,
            topic_archetype="private_message",
        ),
    )
    with store.session() as session:
        rows = session.execute(
            select(
                ForumPostActivity.post_id,
                ForumPostActivity.post_type,
                ForumPostActivity.hidden,
                ForumPostActivity.private,
            ).order_by(ForumPostActivity.post_id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (2, 1, False, False),
        (3, 4, False, False),
        (4, 1, True, True),
    ]
