"""Catching up with the forum: posts newer than a stored cursor, into the inbox.

Discourse retries webhooks rarely (off by default, never after a network error), so
a webhook is a hint and this poll is the safety net: each new post becomes exactly
the ``forum.post_created`` event its webhook would have made (same event_id), so the
inbox keeps one of them whichever arrives first. A post and its cursor are recorded
in one transaction, so a crash resumes without loss or repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.discourse.client import ForumClient
from connectors.discourse.poller import poll_new_posts, start_cursor
from connectors.discourse.records import Post
from core import clock, event_kinds, inbox
from core.events import Event
from core.models import SyncCursor
from core.store import Store

log = logging.getLogger("constellate.webhooks.forum_poll")
CURSOR_NAME = "forum.latest_posts"


@dataclass
class ForumPollReport:
    recorded: int = 0
    duplicates: int = 0
    cursor: int | None = None
    started: bool = False  # the first run only sets the cursor to "now"


def post_event(post: Post) -> Event:
    """The event a ``post_created`` webhook makes for this post (see discourse_events)."""
    return Event(
        event_id=f"forum:post_created:post:{post.id}",
        kind=event_kinds.FORUM_POST_CREATED,
        source="forum",
        subject=f"post:{post.id}",
        actor=post.username or None,
        occurred_at=post.created_at or clock.now(),
        delivery_id=None,
        payload={"post": dict(post.data)},
    )


def poll_forum(
    store: Store, settings: Mapping[str, Any], *, client: ForumClient | None = None
) -> ForumPollReport:
    report = ForumPollReport()
    if not settings["forum"]["url"]:
        return report
    forum = client or ForumClient(settings["forum"])
    with store.session() as session:
        row = session.get(SyncCursor, CURSOR_NAME)
        cursor = int(row.value) if row is not None else None
    if cursor is None:
        report.cursor, report.started = start_cursor(forum), True
        with store.session() as session:
            session.merge(SyncCursor(name=CURSOR_NAME, value=str(report.cursor)))
        log.info("forum poll: no cursor yet, starting after post %s", report.cursor)
        return report
    report.cursor = cursor
    for polled in poll_new_posts(forum, cursor):
        with store.session() as session:
            if inbox.record(session, post_event(polled.post)):
                report.recorded += 1
            else:
                report.duplicates += 1
            session.merge(SyncCursor(name=CURSOR_NAME, value=str(polled.cursor)))
        report.cursor = polled.cursor
    return report
