"""The latest-posts poller: order, resume after a crash, no repeats, gaps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.discourse import ForumClient
from connectors.discourse.poller import poll_new_posts, start_cursor
from connectors.discourse.records import Post

BODY = "A body long enough for Discourse's twenty character minimum."


@pytest.fixture
def client(forum: Any) -> ForumClient:
    return ForumClient(
        {
            "url": forum.url,
            "api_username": forum.api_username,
            "api_key": forum.api_key,
            "timeout": 10,
        }
    )


def topic_with_replies(client: ForumClient, replies: int) -> list[int]:
    external_id = f"poll-{uuid.uuid4().hex[:12]}"
    made = client.create_topic(
        f"Poller topic {external_id}", BODY, category_id=None, external_id=external_id
    )
    assert made.post_id is not None
    ids = [made.post_id]
    for number in range(replies):
        ids.append(client.reply(made.topic_id, f"Poller reply {number} for {external_id}.").id)
    return ids


def test_new_posts_come_oldest_first_across_pages(client: ForumClient) -> None:
    cursor = start_cursor(client)
    created = topic_with_replies(client, 125)  # 126 posts: three pages of 50
    client.request_counts.clear()
    polled = list(poll_new_posts(client, cursor))
    assert [item.post.id for item in polled] == created
    assert [item.cursor for item in polled] == created
    assert polled[0].post.raw == BODY
    assert sum(client.request_counts.values()) == 3


def test_a_crash_resumes_without_loss_or_repeat(client: ForumClient) -> None:
    cursor = start_cursor(client)
    created = topic_with_replies(client, 120)
    handled: list[int] = []
    for item in poll_new_posts(client, cursor):
        handled.append(item.post.id)
        cursor = item.cursor  # stored after handling
        if len(handled) == 57:
            break  # the worker dies here
    more = topic_with_replies(client, 3)  # the forum moves on meanwhile
    handled.extend(item.post.id for item in poll_new_posts(client, cursor))
    assert handled == created + more
    last = max(handled)
    assert list(poll_new_posts(client, last)) == []


def test_deleted_posts_leave_a_gap_the_cursor_passes(forum: Any, client: ForumClient) -> None:
    member_name = f"m{uuid.uuid4().hex[:12]}"
    client.create_user(member_name, "A Member", f"{member_name}@example.org")
    member = client.acting_as(member_name)  # a member's view: deleted posts are not listed
    cursor = start_cursor(member)
    created = topic_with_replies(client, 4)
    forum.client()._delete(f"/posts/{created[2]}.json")
    polled = [item.post.id for item in poll_new_posts(member, cursor)]
    assert polled == created[:2] + created[3:]


class FakeForum:
    """``/posts.json`` semantics on a list of ids: newest first, ``before`` inclusive, 50."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = sorted(ids, reverse=True)
        self.befores: list[int | None] = []
        self.pages: list[list[int]] = []

    def latest_posts(self, before: int | None = None) -> list[Post]:
        self.befores.append(before)
        visible = [i for i in self.ids if before is None or i <= before][:50]
        self.pages.append(visible)
        when = datetime(2026, 1, 1, tzinfo=UTC)
        return [Post(i, 1, i, "someone", "text", when) for i in visible]


def test_pages_step_just_below_the_previous_page() -> None:
    ids = [i for i in range(1, 200) if i % 7]  # gaps where posts were hidden or deleted
    fake = FakeForum(ids)
    polled = [item.post.id for item in poll_new_posts(fake, 20)]
    assert polled == [i for i in ids if i > 20]
    assert fake.befores[0] is None
    assert fake.befores[1:] == [min(page) - 1 for page in fake.pages[:-1]]
    assert len(fake.pages) == 4  # 153 new posts: the fourth page reaches the cursor


def test_first_run_starts_from_now_or_from_the_beginning() -> None:
    fake = FakeForum([3, 5, 8])
    assert start_cursor(fake) == 8
    assert list(poll_new_posts(fake, 8)) == []
    assert [item.post.id for item in poll_new_posts(fake, 0)] == [3, 5, 8]
    assert start_cursor(FakeForum([])) == 0
