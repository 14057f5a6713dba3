"""Seeding a fresh sandbox forum with the example partnership: through the API, and
written straight into the sandbox's state (as the demo and the example tests do)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connectors.discourse import ForumClient
from connectors.discourse.poller import poll_new_posts
from sandbox.example import EXAMPLE, SeedReport, seed_forum
from sandbox.example_conversations import plan_conversations
from sandbox.example_state import seed_forum_state
from sandbox.forum.server import ForumServer

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


@pytest.fixture(scope="module")
def api_forum() -> Iterator[ForumServer]:
    # Seeding through the API takes about a thousand requests, far past Discourse's 60 a
    # minute: this forum allows them, as what the API makes is the point here. Its clock
    # stands still, so a forum seeded directly can be compared row for row.
    with ForumServer(rate_limit_per_minute=100_000, clock=fixed_clock) as server:
        yield server


@pytest.fixture(scope="module")
def seeded(api_forum: ForumServer) -> tuple[ForumClient, SeedReport, SeedReport]:
    client = ForumClient(
        {
            "url": api_forum.url,
            "api_username": api_forum.api_username,
            "api_key": api_forum.api_key,
            "timeout": 10,
        }
    )
    first = seed_forum(client, now=NOW)
    second = seed_forum(client, now=NOW + timedelta(days=2))
    return client, first, second


def test_groups_people_and_categories(seeded: tuple[ForumClient, SeedReport, SeedReport]) -> None:
    client, first, _ = seeded
    assert first.groups_created == 5 and first.users_created == len(EXAMPLE.people) >= 25
    for organisation in EXAMPLE.organisations:
        members = client.group_members(organisation.group)
        assert sorted(members) == sorted(p.username for p in EXAMPLE.members_of(organisation.group))
    categories = {category.name: category for category in client.categories()}
    parent = categories[EXAMPLE.parent_category]
    children = [c for c in categories.values() if c.parent_category_id == parent.id]
    assert sorted(c.name for c in children) == sorted(
        c.forum_category for c in EXAMPLE.constellations
    )
    assert 3 <= len(children) <= 4
    practices = next(g for g in client.tag_groups() if g.name == EXAMPLE.practice_tag_group)
    assert set(practices.tag_names) == {practice.tag for practice in EXAMPLE.practices}


def test_conversations_look_like_a_living_partnership(
    seeded: tuple[ForumClient, SeedReport, SeedReport],
) -> None:
    client, first, _ = seeded
    posts = [item.post for item in poll_new_posts(client, 0)]
    ours = [post for post in posts if post.topic_id in set(first.topic_ids.values())]
    assert first.posts_created == len(ours) >= 250
    times = sorted(post.created_at for post in ours if post.created_at)
    assert times[-1] <= NOW and times[-1] - times[0] >= timedelta(days=60)
    # Replies come minutes to days after the post before them.
    by_topic: dict[int, list[datetime]] = {}
    for post in ours:
        assert post.created_at is not None
        by_topic.setdefault(post.topic_id, []).append(post.created_at)
    gaps = [b - a for stamps in by_topic.values() for a, b in itertools.pairwise(stamps)]
    assert min(gaps) < timedelta(hours=1) and max(gaps) > timedelta(days=1)
    unanswered = [topic for topic, stamps in by_topic.items() if len(stamps) == 1]
    assert len(unanswered) >= 5
    assert first.likes >= 20 and first.solutions >= 3
    authors = {post.username for post in ours}
    assert {person.username for person in EXAMPLE.people if person.newcomer} <= authors


def test_newcomers_first_posts_some_answered_some_not(
    seeded: tuple[ForumClient, SeedReport, SeedReport],
) -> None:
    client, first, _ = seeded
    answered = []
    for topic in plan_conversations(EXAMPLE, NOW):
        if topic.kind == "newcomer":
            loaded = client.get_topic(first.topic_ids[topic.external_id])
            assert loaded.posts[0].username == topic.author
            answered.append(len(loaded.posts) > 1)
    assert True in answered and False in answered


def test_a_second_run_creates_nothing(seeded: tuple[ForumClient, SeedReport, SeedReport]) -> None:
    _, first, second = seeded
    assert not second.created_anything
    assert second.likes == second.solutions == 0
    assert second.topic_ids == first.topic_ids


def test_written_straight_into_the_state_it_is_what_the_api_makes(
    api_forum: ForumServer, seeded: tuple[ForumClient, SeedReport, SeedReport]
) -> None:
    _, first, _ = seeded
    with ForumServer(clock=fixed_clock) as direct:  # Discourse's 60 requests a minute
        assert direct.forum is not None and api_forum.forum is not None
        report = seed_forum_state(direct.forum, now=NOW)
        assert list(direct.forum.api_log) == []  # not one API request
        assert report == first
        # Every row the same: ids, cooked posts, counters, times (links name each forum).
        assert _tables(direct) == _tables(api_forum)
        # So the API answers alike: a topic with replies, likes and a solution; a profile.
        topic_id = next(
            t["id"] for t in direct.forum.table("topics").values() if t["accepted_answer_post_id"]
        )
        for path in (f"/t/{topic_id}.json", f"/u/{EXAMPLE.people[0].username}.json"):
            assert _answer(direct, path) == _answer(api_forum, path), path

        again = seed_forum_state(direct.forum, now=NOW + timedelta(days=2))
        assert not again.created_anything and again.likes == again.solutions == 0
        assert again.topic_ids == first.topic_ids


def _tables(server: ForumServer) -> dict[str, Any]:
    assert server.forum is not None
    text = json.dumps(server.forum.snapshot()["tables"]).replace(server.url, "FORUM")
    tables: dict[str, Any] = json.loads(text)
    return tables


def _answer(server: ForumServer, path: str) -> Any:
    headers = {"Api-Key": server.api_key, "Api-Username": server.api_username}
    answer = requests.get(f"{server.url}{path}", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return json.loads(answer.text.replace(server.url, "FORUM"))
