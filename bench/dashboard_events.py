"""Inbox events for the dashboard benchmark: webhook bodies of the generated forum's recent
posts (created, edited, liked), wiki changes, the hourly health schedule and moderators'
dashboard requests, made into Events by the real normalisers
(``webhooks.incoming.discourse_events``, ``wiki_events``) and the dashboard's own event
builders, oldest first."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from community.activity import ForumPostActivity
from community.constellations.models import PageTopicLink
from community.constellations.requests import resolution_event, resync_event
from community.health.handlers import schedule_event
from community.practices.models import PracticeSuggestion
from community.practices.promotion_requests import promotion_event
from connectors.mediawiki import WikiChange
from connectors.mediawiki.records import make_cursor
from core.events import Event
from webhooks.incoming.discourse_events import normalise
from webhooks.incoming.wiki_events import change_event

INBOX_EVENTS = 100_000  # about: posts make most of them, each may bring one more
INBOX_DAYS = 45


def inbox_events(connection: Connection, rng: random.Random, now: datetime) -> Iterator[Event]:
    """INBOX_EVENTS events of the last INBOX_DAYS days, oldest first."""
    since = now - timedelta(days=INBOX_DAYS)
    posts = connection.execute(
        select(
            ForumPostActivity.post_id,
            ForumPostActivity.topic_id,
            ForumPostActivity.category_id,
            ForumPostActivity.username,
            ForumPostActivity.post_number,
            ForumPostActivity.reply_to_post_number,
            ForumPostActivity.created_at,
        )
        .where(
            ForumPostActivity.created_at >= since,
            ForumPostActivity.created_at < now,
            ForumPostActivity.private.is_(False),
        )
        .order_by(ForumPostActivity.post_id)
    ).all()
    stride = max(1, len(posts) * 7 // (INBOX_EVENTS * 6))  # posts make ~6/7 of the events
    delivery = 1_000
    rcid = 400_000
    pages = [
        (page_id, title) for page_id, title in connection.execute(
            select(PageTopicLink.wiki_page_id, PageTopicLink.wiki_title)
        )
    ]  # fmt: skip
    slot = since
    for row in posts[::stride]:
        post = _post_body(row)
        delivery += 1
        yield _forum("post_created", {"post": post}, delivery, row.created_at)
        if row.post_number == 1:
            delivery += 1
            yield _forum("topic_created", {"topic": _topic_body(row)}, delivery, row.created_at)
        roll = rng.random()
        later = row.created_at + timedelta(minutes=rng.randrange(2, 600))
        if later >= now:
            continue
        delivery += 1
        if roll < 0.08:
            edited = {**post, "version": 2, "updated_at": _iso(later), "raw": post["raw"] + "!"}
            yield _forum("post_edited", {"post": edited}, delivery, later)
        elif roll < 0.20:
            yield _forum("post_liked", {"like": _like_body(rng, post)}, delivery, later)
        elif roll < 0.28:
            rcid += 1
            yield change_event(_wiki_change(rng, pages, rcid, later))
        while slot < row.created_at:  # the hourly health recompute
            yield schedule_event(slot, 60)
            slot += timedelta(hours=1)
    yield from _dashboard_requests(rng, now)
    yield from _promotions(connection, now)


def _forum(name: str, body: dict[str, Any], delivery: int, at: datetime) -> Event:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return normalise(name, body, raw, delivery_id=str(delivery), received=at)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _post_body(row: Any) -> dict[str, Any]:
    """A post as Discourse's post_created webhook sends it (the fields that matter)."""
    slug = f"topic-{row.topic_id}"
    raw = f"Post {row.post_number} of topic {row.topic_id}: how we ran the last meeting."
    return {
        "id": row.post_id,
        "name": row.username,
        "username": row.username,
        "avatar_template": "/letter_avatar_proxy/v4/letter/m/8797e5/{size}.png",
        "created_at": _iso(row.created_at),
        "cooked": f"<p>{raw}</p>",
        "post_number": row.post_number,
        "post_type": 1,
        "updated_at": _iso(row.created_at),
        "reply_count": 0,
        "reply_to_post_number": row.reply_to_post_number,
        "quote_count": 0,
        "reads": 3,
        "score": 0.4,
        "topic_id": row.topic_id,
        "topic_slug": slug,
        "topic_title": f"Topic {row.topic_id}",
        "category_id": row.category_id,
        "display_username": row.username,
        "primary_group_name": None,
        "version": 1,
        "raw": raw,
        "moderator": False,
        "admin": False,
        "staff": False,
        "user_id": _user_id(row.username),
        "hidden": False,
        "trust_level": 1,
        "deleted_at": None,
        "user_deleted": False,
        "wiki": False,
        "post_url": f"/t/{slug}/{row.topic_id}/{row.post_number}",
        "topic_posts_count": row.post_number,
        "topic_archetype": "regular",
    }


def _user_id(username: str) -> int:
    digits = "".join(ch for ch in username if ch.isdigit())
    return 100 + int(digits or 0)


def _topic_body(row: Any) -> dict[str, Any]:
    creator = {"id": _user_id(row.username), "username": row.username, "name": row.username}
    return {
        "id": row.topic_id,
        "title": f"Topic {row.topic_id}",
        "fancy_title": f"Topic {row.topic_id}",
        "slug": f"topic-{row.topic_id}",
        "posts_count": 1,
        "created_at": _iso(row.created_at),
        "last_posted_at": _iso(row.created_at),
        "visible": True,
        "closed": False,
        "archived": False,
        "archetype": "regular",
        "category_id": row.category_id,
        "deleted_at": None,
        "tags": [],
        "created_by": creator,
        "last_poster": creator,
    }


def _like_body(rng: random.Random, post: dict[str, Any]) -> dict[str, Any]:
    liker = f"member{rng.randrange(1, 10_000):05d}"
    return {"post": post, "user": {"id": rng.randrange(2, 10_000), "username": liker}}


def _wiki_change(
    rng: random.Random, pages: list[tuple[int, str]], rcid: int, at: datetime
) -> WikiChange:
    page_id, title = rng.choice(pages)
    revid = 500_000 + rcid
    return WikiChange(
        cursor=make_cursor(at, rcid),
        rcid=rcid,
        type="edit",
        title=title,
        ns=0,
        pageid=page_id,
        revid=revid,
        old_revid=revid - 1,
        timestamp=at,
        user=f"Member{rng.randrange(1, 10_000, 4):05d}",
        comment="Update the charter",
        bot=False,
        minor=rng.random() < 0.3,
        old_size=4_000,
        new_size=4_000 + rng.randrange(-200, 400),
    )


def _dashboard_requests(rng: random.Random, now: datetime) -> Iterator[Event]:
    """Moderators' resyncs, conflict choices and promotions (ids fixed, not uuid4)."""
    for n in range(60):
        at = now - timedelta(hours=12 * (60 - n))
        title = None if n % 5 == 0 else f"Constellation {n % 50 + 1:02d}"
        event = resync_event(title, "maren_okafor", now=at)
        yield replace(event, event_id=f"dashboard:resync:bench{n}")
        if n % 3 == 0:
            choice = rng.choice(("keep_forum", "use_wiki"))
            event = resolution_event(n + 1, choice, "tomas_lind", now=at)
            yield replace(event, event_id=f"dashboard:resolve:{n + 1}:bench")


def _promotions(connection: Connection, now: datetime) -> Iterator[Event]:
    """Promotion requests for a few open suggestions, waiting for the worker."""
    open_ones = connection.execute(
        select(PracticeSuggestion.id, PracticeSuggestion.topic_id)
        .where(PracticeSuggestion.state == "open", PracticeSuggestion.kind == "candidate")
        .order_by(PracticeSuggestion.id)
        .limit(8)
    ).all()
    for n, (suggestion_id, topic_id) in enumerate(open_ones):
        suggestion = PracticeSuggestion(id=suggestion_id, topic_id=topic_id)
        at = now - timedelta(hours=n + 1)
        event = promotion_event(suggestion, "maren_okafor", title=None, organisation=None, now=at)
        yield replace(event, event_id=f"dashboard:promote:{suggestion_id}:bench")
