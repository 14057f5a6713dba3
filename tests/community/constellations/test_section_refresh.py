"""A busy constellation's wiki section is refreshed at most once per page and interval,
the first change at once; topic titles and openings come from what the webhooks
delivered, not from the forum."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from community.activity import ForumTopic, record_post, record_topic
from community.constellations.handlers import schedule_section_refresh
from community.constellations.models import PageTopicLink
from community.handling import HandlerContext
from core import event_kinds
from core.config import load_config
from core.events import Event
from core.models import InboxEvent
from core.store import Store
from tests.clocks import FakeClock, chosen

T0 = datetime(2026, 4, 6, 10, 1, tzinfo=UTC)  # a minute into a five-minute interval
CATEGORY = 31


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


@pytest.fixture
def settings() -> Any:
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "wiki": {"url": "http://127.0.0.1:9", "username": "Bot", "password": "not-real"},
            "forum": {"url": "http://127.0.0.1:9", "api_username": "system", "api_key": "k"},
        },
    )


def post_event(
    number: int,
    *,
    title: str = "Seed swaps",
    category: int = CATEGORY,
    raw: str | None = None,
    edited: timedelta = timedelta(0),
) -> Event:
    post: dict[str, Any] = {
        "id": 500 + number,
        "topic_id": 77,
        "topic_title": title,
        "topic_slug": title.lower().replace(" ", "-"),
        "category_id": category,
        "username": "ana",
        "post_number": number + 1,
        "created_at": T0.isoformat(),
        "updated_at": (T0 + timedelta(seconds=number) + edited).isoformat(),
    }
    if raw is not None:
        post["raw"] = raw
    return Event(
        event_id=f"forum:post_created:{post['id']}",
        kind=event_kinds.FORUM_POST_CREATED,
        source="forum",
        subject=f"post:{post['id']}",
        actor="ana",
        occurred_at=T0,
        delivery_id=None,
        payload={"post": post},
    )


def refreshes(store: Store) -> list[tuple[str, datetime]]:
    with store.session() as session:
        rows = session.scalars(
            select(InboxEvent).where(InboxEvent.kind == event_kinds.SECTION_REFRESH)
        )
        return [(row.event_id, row.available_at) for row in rows]


def test_a_busy_page_is_refreshed_at_once_then_once_an_interval(
    store: Store, settings: Any, clock: FakeClock
) -> None:
    with store.session() as session:
        session.add(
            PageTopicLink(
                wiki_page_id=12,
                wiki_title="Seed Library",
                external_id="wiki-page-12",
                forum_category_id=CATEGORY,
                forum_topic_id=70,
            )
        )
    for number in range(30):
        with store.session() as session:
            schedule_section_refresh(post_event(number), HandlerContext(session, settings))
        clock.advance(seconds=10)  # 30 posts, 10:01:00 to 10:05:50: two intervals
    with store.session() as session:  # a post elsewhere asks for nothing
        schedule_section_refresh(post_event(99, category=5), HandlerContext(session, settings))
    due = refreshes(store)
    # The first post at once; the rest of 10:00–10:05 at 10:05; 10:05–10:10's at 10:10.
    assert sorted(when for _, when in due) == [
        T0,
        datetime(2026, 4, 6, 10, 5, tzinfo=UTC),
        datetime(2026, 4, 6, 10, 10, tzinfo=UTC),
    ]
    assert all(event_id.startswith("section:12:") for event_id, _ in due)


def test_topic_titles_are_kept_from_what_webhooks_delivered(
    store: Store, settings: Any, clock: FakeClock
) -> None:
    with store.session() as session:
        record_post(post_event(0, title="Seed swaps"), HandlerContext(session, settings))
        record_post(post_event(1, title="Seed swaps"), HandlerContext(session, settings))
    renamed = Event(
        event_id="forum:topic_edited:77",
        kind=event_kinds.FORUM_TOPIC_EDITED,
        source="forum",
        subject="topic:77",
        actor="ana",
        occurred_at=T0 + timedelta(minutes=1),
        delivery_id=None,
        payload={
            "topic": {
                "id": 77,
                "title": "Seed swaps in spring",
                "slug": "seed-swaps-in-spring",
                "category_id": CATEGORY,
            }
        },
    )
    with store.session() as session:
        record_topic(renamed, HandlerContext(session, settings))
        # A late delivery of an older post does not bring the old title back.
        record_post(post_event(2, title="Seed swaps"), HandlerContext(session, settings))
    with store.session() as session:
        topic = session.get_one(ForumTopic, 77)
        assert (topic.title, topic.slug) == ("Seed swaps in spring", "seed-swaps-in-spring")


def test_a_topics_opening_is_kept_from_its_first_posts_reports(
    store: Store, settings: Any, clock: FakeClock
) -> None:
    first = post_event(0, raw="How we swap seeds.")
    edit = post_event(0, raw="How we swap seeds, step by step.", edited=timedelta(minutes=3))
    with store.session() as session:
        for event in (edit, first, post_event(1, raw="A reply, not the opening.")):
            record_post(event, HandlerContext(session, settings))  # the edit arrived first
    with store.session() as session:
        topic = session.get_one(ForumTopic, 77)
        assert topic.opening == "How we swap seeds, step by step."
        assert topic.opening_at == T0 + timedelta(minutes=3)
