"""A busy forum day for the forum_budget benchmark: people's topics, replies, likes and
an edit now and then, made in the forum sandbox's state directly (as people on the site
would make them, spending none of the service's API budget), each firing the webhooks
Discourse fires for it.

The day is seeded, so every run asks for the same things at the same moments: times
drawn from a busy day's shape (quiet at the start and the end, busiest at midday),
categories from a skewed share (a few constellations talk much more than the rest).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox.forum import posting
from sandbox.forum.creation import add_like
from sandbox.forum.seed import new_user
from sandbox.forum.state import Forum

# Shares of the day's events; a kind that cannot be done yet (a reply in a category with
# no topic) becomes a new topic.
KINDS = {"topic": 0.12, "reply": 0.55, "like": 0.30, "edit": 0.03}
PEOPLE = 150
# Most of a busy forum's people have been around (trust level 2, "member"); every tenth
# is new (trust level 1), and the service welcomes their first post.
NEWCOMER_EVERY = 10
RECENT_TOPICS = 6  # people reply mostly to what is on the category's first screen
RECENT_POSTS = 30  # and like what they have just read


@dataclass(frozen=True)
class Planned:
    at: float  # seconds from the start of the day
    kind: str
    category: int  # index into the day's categories
    person: int  # index into the day's people


def plan(events: int, hours: float, categories: int, seed: int = 20) -> list[Planned]:
    """``events`` happenings over ``hours``, oldest first."""
    rng = random.Random(seed)  # noqa: S311 (a replayable day, no secret)
    length = hours * 3600
    # Intensity 0.4 at the ends, 1.0 at midday: drawn by rejection.
    times: list[float] = []
    while len(times) < events:
        at = rng.uniform(0, length)
        if rng.random() <= 0.4 + 0.6 * math.sin(math.pi * at / length):
            times.append(at)
    weights = [1 / (rank + 1) ** 0.8 for rank in range(categories)]
    people = [1 / (rank + 1) ** 0.6 for rank in range(PEOPLE)]
    kinds, shares = list(KINDS), list(KINDS.values())
    return [
        Planned(
            at,
            rng.choices(kinds, shares)[0],
            rng.choices(range(categories), weights)[0],
            rng.choices(range(PEOPLE), people)[0],
        )
        for at in sorted(times)
    ]


class Day:
    """Does the planned happenings on ``forum`` in the categories ``category_ids``."""

    def __init__(self, forum: Forum, category_ids: list[int], seed: int = 20) -> None:
        self.forum = forum
        self.category_ids = category_ids
        self.rng = random.Random(seed)  # noqa: S311 (a replayable day, no secret)  # noqa: S311 (a replayable day, no secret)
        self.done: Counter[str] = Counter()
        self.topics: dict[int, list[dict[str, Any]]] = {c: [] for c in category_ids}
        self.posts: dict[int, list[dict[str, Any]]] = {c: [] for c in category_ids}
        created = forum.now_iso()
        self.people: list[dict[str, Any]] = []
        with forum.lock:
            for n in range(PEOPLE):
                person = new_user(
                    f"day_person_{n}",
                    name=f"Day Person {n}",
                    email=f"day-person-{n}@example.org",
                    created_at=created,
                )
                person["trust_level"] = 1 if n % NEWCOMER_EVERY == NEWCOMER_EVERY - 1 else 2
                forum.insert("users", person)
                self.people.append(person)

    def do(self, planned: Planned) -> str:
        """Make one happening; returns its kind as done."""
        category = self.category_ids[planned.category]
        person = self.people[planned.person]
        kind = planned.kind if self.topics[category] else "topic"
        with self.forum.lock:  # as the forum's own requests do
            if kind == "reply":
                self._reply(category, person)
            elif kind == "like" and not self._like(category, person):
                kind = "reply"
                self._reply(category, person)
            elif kind == "edit":
                self._edit(category)
            elif kind == "topic":
                self._topic(category, person)
        self.done[kind] += 1
        return kind

    def _topic(self, category: int, person: dict[str, Any]) -> None:
        number = sum(self.done.values())
        post = posting.create_topic(
            self.forum,
            person,
            {
                "title": f"Busy day topic {number}: what we tried this week",
                "raw": f"Opening post {number}: here is what happened and what we plan next.",
                "category_id": category,
            },
        )
        self.topics[category].append(self.forum.table("topics")[post["topic_id"]])
        self.posts[category].append(post)

    def _reply(self, category: int, person: dict[str, Any]) -> None:
        topic = self.rng.choice(self.topics[category][-RECENT_TOPICS:])
        number = sum(self.done.values())
        post = posting.create_reply(
            self.forum, person, topic, {"raw": f"Reply {number}: we saw the same, and more."}
        )
        self.posts[category].append(post)

    def _like(self, category: int, person: dict[str, Any]) -> bool:
        liked = {
            a["post_id"]
            for a in self.forum.table("post_actions").values()
            if a["user_id"] == person["id"]
        }
        choices = [
            p
            for p in self.posts[category][-RECENT_POSTS:]
            if p["user_id"] != person["id"] and p["id"] not in liked
        ]
        if not choices:
            return False
        add_like(self.forum, self.rng.choice(choices), person)
        return True

    def _edit(self, category: int) -> None:
        post = self.rng.choice(self.posts[category][-RECENT_POSTS:])
        author = self.forum.table("users")[post["user_id"]]
        posting.revise(
            self.forum, post, raw=post["raw"] + " (Edited: a detail added.)", editor=author
        )
