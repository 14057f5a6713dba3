"""Catch up with the forum's new posts from ``GET /posts.json?before=``.

The webhook is only a wake-up hint (Discourse retries rarely and never on network
errors), so this poll is the reconciliation path. The cursor is the id of the last post
handled. One poll walks the newest-first pages (50 posts each, ``before`` inclusive)
back to the cursor, then yields the new posts oldest first, each with the cursor to store
once it has been handled: a crash between handling and storing repeats at most that one
post, and nothing is skipped.

First run: there is no cursor yet. ``start_cursor(client)`` gives "from now" (the newest
post id; nothing old is replayed), and 0 replays the whole public history. A caller may
also store any post id to start after it.

Gaps in ids are normal: hidden, deleted, whispered and private posts are not listed by
Discourse, and the cursor simply moves past them. A post hidden after it was handled is
not seen again; edits are not new posts (webhooks and topic reads cover those).
Limit: if two posts are committed out of id order, the lower id can become visible after
the higher one was handled and this poll will not return it; the webhook for it still
arrives, so a handler fed by both paths stays complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from connectors.discourse.records import Post


class LatestPosts(Protocol):
    def latest_posts(self, before: int | None = None) -> list[Post]: ...


@dataclass(frozen=True)
class PolledPost:
    post: Post
    cursor: int  # store this after handling ``post``


def start_cursor(client: LatestPosts) -> int:
    """The cursor for a first run that starts from now: the newest visible post's id."""
    page = client.latest_posts()
    return max((post.id for post in page), default=0)


def poll_new_posts(client: LatestPosts, cursor: int) -> Iterator[PolledPost]:
    """Posts with ids above ``cursor``, oldest first, each with the cursor to store after it."""
    newer: dict[int, Post] = {}
    before: int | None = None
    while True:
        page = client.latest_posts(before=before)
        if not page:
            break
        for post in page:
            if post.id > cursor:
                newer[post.id] = post
        oldest = min(post.id for post in page)
        if oldest <= cursor + 1:
            break  # reached (or just above) what was handled last time
        # ``before`` is inclusive, so the next page starts just below this one.
        before = oldest - 1
    for post_id in sorted(newer):
        yield PolledPost(newer[post_id], post_id)
