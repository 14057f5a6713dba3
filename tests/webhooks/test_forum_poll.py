"""Catching up with the forum's posts (missed webhooks) against the forum sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.discourse.client import ForumClient
from core.config import load_config
from core.inbox import record
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from tests.conftest import SessionForum
from webhooks.incoming.discourse_events import normalise
from webhooks.incoming.forum_poll import poll_forum


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    made = Store(url)
    yield made
    made.dispose()


def settings_for(forum: SessionForum) -> dict[str, Any]:
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "wiki": {"url": "http://127.0.0.1:9", "username": "b@c", "password": "p"},
            "forum": {"url": forum.url, "api_username": "system", "api_key": forum.api_key},
        },
    )


def forum_rows(store: Store) -> list[InboxEvent]:
    with store.session() as session:
        query = select(InboxEvent).where(InboxEvent.source == "forum").order_by(InboxEvent.id)
        return list(session.scalars(query))


def test_new_posts_are_caught_up_once_and_resume_from_the_cursor(
    forum: SessionForum, store: Store
) -> None:
    settings = settings_for(forum)
    first = poll_forum(store, settings)
    assert first.started and first.recorded == 0 and forum_rows(store) == []

    person = forum.client("system")
    made = person.create_post(
        "A topic posted while our webhook endpoint was down.",
        category_id=1,
        title=forum.name("Missed webhook topic "),
    )
    reply = person.create_post("And a reply to it, also missed.", topic_id=made["topic_id"])
    caught = poll_forum(store, settings)
    assert caught.recorded == 2 and caught.cursor == reply["id"]
    rows = forum_rows(store)
    assert [r.event_id for r in rows] == [
        f"forum:post_created:post:{made['id']}",
        f"forum:post_created:post:{reply['id']}",
    ]
    assert rows[1].kind == "forum.post_created" and rows[1].payload["post"]["id"] == reply["id"]

    again = poll_forum(store, settings)  # a restart: the cursor was stored
    assert (again.recorded, again.duplicates) == (0, 0)
    assert len(forum_rows(store)) == 2


def test_the_webhook_and_the_poll_of_one_post_make_one_event(
    forum: SessionForum, store: Store
) -> None:
    settings = settings_for(forum)
    poll_forum(store, settings)
    made = forum.client("system").create_post(
        "A post whose webhook arrives after the poll saw it.",
        category_id=1,
        title=forum.name("Webhook after poll "),
    )
    assert poll_forum(store, settings).recorded == 1
    # The webhook's own event for the same post, as the endpoint would build it.
    post = ForumClient(settings["forum"]).get_post(made["id"])
    body = {"post": post.data}
    webhook_event = normalise(
        "post_created",
        body,
        json.dumps(body).encode(),
        delivery_id="1",
        received=datetime.now(UTC),
    )
    with store.session() as session:
        assert record(session, webhook_event) is False  # already in the inbox
    assert len(forum_rows(store)) == 1
