"""Terse hand-built forum conversations for the metric tests.

``at(day, hour)`` is a moment counted from a fixed start, so the expected hours and days
in a test can be worked out from the arguments. ``Conversation`` hands out post and topic
ids and post numbers the way the forum would, and keeps the stored rows (``RawPost``), so
the tests go through ``counted_posts`` and its filtering like the real caller does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from community.health.conversation import People, Post, RawPost, Window, counted_posts

START = datetime(2024, 1, 1, tzinfo=UTC)
# Bots and our own account, as the caller's configuration would exclude them.
EXCLUDED = frozenset({"system", "constellate-bot", "gaugebot"})


def at(day: float, hour: float = 0) -> datetime:
    """``day`` days and ``hour`` hours after ``START`` (day 0, hour 0)."""
    return START + timedelta(days=day, hours=hour)


def window(end_day: float, days: int) -> Window:
    """The ``days``-day window ending at the start of day ``end_day``."""
    return Window(end=at(end_day), days=days)


def person(username: str) -> str:
    """The person key ``People`` gives an account nobody linked."""
    return People().person(username)


def people(
    organisations: Mapping[str, str] | None = None, linked: Mapping[str, str] | None = None
) -> People:
    """The standard exclusions, ``organisations`` (username -> organisation) and
    ``linked`` accounts (second username -> the username whose person it belongs to)."""
    return People(
        excluded=EXCLUDED,
        person_of={extra: person(main) for extra, main in (linked or {}).items()},
        organisation_of={
            person(username): name for username, name in (organisations or {}).items()
        },
    )


@dataclass
class Conversation:
    """Topics and replies as stored rows, numbered in the order they are added."""

    rows: list[RawPost] = field(default_factory=list)
    _numbers: dict[int, int] = field(default_factory=dict)  # topic id -> last post number

    def topic(self, username: str, when: datetime, **flags: Any) -> int:
        """A new topic's first post; returns the topic id."""
        topic_id = len(self._numbers) + 1
        self._numbers[topic_id] = 0
        self._add(topic_id, username, when, None, flags)
        return topic_id

    def reply(
        self, topic_id: int, username: str, when: datetime, to: int | None = None, **flags: Any
    ) -> int:
        """A reply in ``topic_id`` (to post number ``to``, else none named); returns its
        post number."""
        return self._add(topic_id, username, when, to, flags)

    def posts(self, who: People | None = None) -> list[Post]:
        return counted_posts(self.rows, who if who is not None else people())

    def _add(self, topic_id: int, username: str, when: datetime, to: int | None, flags: Any) -> int:
        number = self._numbers[topic_id] + 1
        self._numbers[topic_id] = number
        self.rows.append(
            RawPost(
                post_id=len(self.rows) + 1,
                topic_id=topic_id,
                post_number=number,
                reply_to_post_number=to,
                username=username,
                created_at=when,
                **flags,
            )
        )
        return number
