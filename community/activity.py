"""The record of forum and wiki activity that handlers keep, and the handlers that keep it.

Every handler is an upsert on a unique key, so the same event twice (or a webhook and a
poll of the same change) has the effect of once. Events may arrive out of order: a
post row only moves forward in ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.handling import HandlerContext
from connectors.discourse.poller import LatestPosts, poll_new_posts
from core import clock, event_kinds
from core.events import Event
from core.models import Base, UTCDateTime
from core.store import dialect_insert
from core.times import parse_time

PRIVATE_MESSAGE = "private_message"  # a topic's archetype when it is a private message


HEALTH_COLUMNS = (
    "category_id",
    "created_at",
    "post_id",
    "topic_id",
    "post_number",
    "reply_to_post_number",
    "username",
    "deleted",
    "hidden",
    "private",
    "post_type",
)


class ForumPostActivity(Base):
    """One forum post as last seen: who wrote it where, and whether it is deleted."""

    __tablename__ = "forum_post_activity"
    # The health metrics read a category's recent posts and a person's first posts. The
    # category's index holds every column they read (a covering index: the full recompute
    # reads each post from it, not from the table).
    __table_args__ = (
        Index("ix_forum_post_activity_category_time", *HEALTH_COLUMNS),
        Index("ix_forum_post_activity_username_time", "username", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(Integer, unique=True)
    topic_id: Mapped[int] = mapped_column(Integer, index=True)
    category_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(255))
    post_number: Mapped[int] = mapped_column(Integer)
    reply_to_post_number: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the health metrics leave out: whispers and small actions (post_type 4 and 3),
    # hidden posts and private messages.
    post_type: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class ForumTopic(Base):
    """A topic's title and slug as the forum last told us (post payloads carry them as
    ``topic_title``/``topic_slug``, topic payloads as ``title``/``slug``): what the wiki
    sections show, read here rather than asked of the forum each time."""

    __tablename__ = "forum_topics"

    topic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The first post's markdown as its post webhooks carried it (None until one did), and
    # that post's updated_at, so an older report never overwrites a newer one.
    opening: Mapped[str | None] = mapped_column(Text)
    opening_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ForumLike(Base):
    """One person's like of one post, as ``post_liked`` webhooks report it (Discourse sends
    no webhook for an unlike): a topic's likes counted without asking the forum."""

    __tablename__ = "forum_likes"

    post_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WikiChangeActivity(Base):
    """One wiki change: ``change_key`` is ``rc:<rcid>`` for a recent change, or
    ``rev:<revid>`` for a revision found by a reconcile."""

    __tablename__ = "wiki_change_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_key: Mapped[str] = mapped_column(String(64), unique=True)
    rcid: Mapped[int | None] = mapped_column(Integer)
    revid: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    user: Mapped[str | None] = mapped_column(String(255))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(32))


# -- forum -------------------------------------------------------------------------------


def _post_values(post: Mapping[str, Any], deleted: bool, fallback: datetime) -> dict[str, Any]:
    created = parse_time(post.get("created_at")) or fallback
    return {
        "post_id": int(post["id"]),
        "topic_id": int(post["topic_id"]),
        "category_id": post.get("category_id"),
        "username": str(post["username"]),
        "post_number": int(post["post_number"]),
        "reply_to_post_number": post.get("reply_to_post_number"),
        "created_at": created,
        "updated_at": parse_time(post.get("updated_at")) or created,
        "deleted": deleted,
        "post_type": int(post.get("post_type") or 1),
        "hidden": bool(post.get("hidden")),
        "private": post.get("topic_archetype") == PRIVATE_MESSAGE,
    }


def record_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_*: insert the post once, then move it forward, never back."""
    post: Mapping[str, Any] = event.payload["post"]
    deleted = event.kind == event_kinds.FORUM_POST_DESTROYED or bool(post.get("deleted_at"))
    if event.kind == event_kinds.FORUM_POST_RECOVERED:
        deleted = False
    _keep_post(ctx.session, post, deleted, event.occurred_at)


def record_history(session: Session, forum: LatestPosts) -> int:
    """Record the forum's whole public history (``/posts.json`` back to the first post)
    as activity, without making events of it: old posts need no wiki sections, credit
    suggestions or practice tags, only their place in the record the metrics read.
    Returns how many posts were read; safe to repeat (rows only move forward)."""
    read = 0
    for polled in poll_new_posts(forum, 0):
        keep_listed_post(session, polled.post.data, clock.now())
        read += 1
    return read


def keep_listed_post(session: Session, post: Mapping[str, Any], at: datetime) -> None:
    """A post as a forum listing shows it (``/posts.json``), kept as a webhook's would
    be; ``at`` stands in for a missing time."""
    _keep_post(session, post, bool(post.get("deleted_at")), at)


def _keep_post(session: Session, post: Mapping[str, Any], deleted: bool, at: datetime) -> None:
    """The post's row, and its topic's title, slug and (from the first post) opening."""
    values = _post_values(post, deleted, at)
    upsert_post(session, values)
    if post.get("topic_title"):
        topic_id = values["topic_id"]
        upsert_topic(
            session,
            topic_id,
            str(post["topic_title"]),
            str(post.get("topic_slug") or ""),
            values["updated_at"],
        )
        if values["post_number"] == 1 and post.get("raw") is not None:
            _keep_opening(session, topic_id, str(post["raw"]), values["updated_at"])


def _keep_opening(session: Session, topic_id: int, raw: str, at: datetime) -> None:
    session.execute(
        update(ForumTopic)
        .where(
            ForumTopic.topic_id == topic_id,
            or_(ForumTopic.opening_at.is_(None), ForumTopic.opening_at <= at),
        )
        .values(opening=raw, opening_at=at)
    )


def record_like(event: Event, ctx: HandlerContext) -> None:
    """forum.post_liked: the like, kept once."""
    like: Mapping[str, Any] = event.payload["like"]
    post: Mapping[str, Any] = like["post"]
    keep_like(
        ctx.session,
        post_id=int(post["id"]),
        username=str(like["user"]["username"]),
        topic_id=int(post["topic_id"]),
        at=event.occurred_at,
    )


def keep_like(
    session: Session, *, post_id: int, username: str, topic_id: int, at: datetime
) -> None:
    """One person's like of one post, kept once (a webhook's or one read from history)."""
    session.execute(
        dialect_insert(session, ForumLike)
        .values(post_id=post_id, username=username, topic_id=topic_id, created_at=at)
        .on_conflict_do_nothing(index_elements=["post_id", "username"])
    )


def upsert_post(session: Session, values: Mapping[str, Any]) -> None:
    inserted = session.execute(
        dialect_insert(session, ForumPostActivity)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["post_id"])
        .returning(ForumPostActivity.id)
    ).scalar()
    if inserted is not None:
        return
    # Delete and recover do not always touch updated_at, so equal times still apply.
    changes = {k: v for k, v in values.items() if k not in ("post_id", "created_at")}
    session.execute(
        update(ForumPostActivity)
        .where(
            ForumPostActivity.post_id == values["post_id"],
            ForumPostActivity.updated_at <= values["updated_at"],
        )
        .values(**changes)
    )


def record_topic(event: Event, ctx: HandlerContext) -> None:
    """forum.topic_*: a topic's category and deletion apply to the posts we know in it."""
    topic: Mapping[str, Any] = event.payload["topic"]
    changes: dict[str, Any] = {"category_id": topic.get("category_id")}
    if event.kind == event_kinds.FORUM_TOPIC_DESTROYED:
        changes["deleted"] = True
    ctx.session.execute(
        update(ForumPostActivity)
        .where(ForumPostActivity.topic_id == int(topic["id"]))
        .values(**changes)
    )
    if topic.get("title"):
        # A topic edit's payload keeps the topic's old updated_at: the event's time orders.
        upsert_topic(
            ctx.session,
            int(topic["id"]),
            str(topic["title"]),
            str(topic.get("slug") or ""),
            event.occurred_at,
        )


def upsert_topic(session: Session, topic_id: int, title: str, slug: str, at: datetime) -> None:
    """Keep a topic's title and slug; an older report never overwrites a newer one."""
    values = {"title": title[:255], "slug": slug[:255], "updated_at": at}
    session.execute(
        dialect_insert(session, ForumTopic)
        .values(topic_id=topic_id, **values)
        .on_conflict_do_update(
            index_elements=["topic_id"], set_=values, where=ForumTopic.updated_at <= at
        )
    )


# -- wiki --------------------------------------------------------------------------------


def record_wiki_change(event: Event, ctx: HandlerContext) -> None:
    """wiki.*: one row per recent change (or per reconciled revision), kept once."""
    data: Mapping[str, Any] = event.payload
    rcid = data.get("rcid")
    revid = data.get("revid") or None
    key = f"rc:{rcid}" if rcid else f"rev:{revid}"
    if rcid and revid and _backfilled(ctx.session, int(revid)):
        return  # the backfill read this revision from the page's history already
    ctx.session.execute(
        dialect_insert(ctx.session, WikiChangeActivity)
        .values(
            change_key=key,
            rcid=rcid,
            revid=revid,
            title=str(data["title"]),
            user=data.get("user"),
            timestamp=event.occurred_at,
            type=event.kind.removeprefix("wiki."),
        )
        .on_conflict_do_nothing(index_elements=["change_key"])
    )


def _backfilled(session: Session, revid: int) -> bool:
    """Whether the revision has its row from the page's history (an edit or a creation;
    a reconcile's row names no edit, so the live change still counts)."""
    found = session.scalar(
        select(WikiChangeActivity.id).where(
            WikiChangeActivity.change_key == f"rev:{revid}",
            WikiChangeActivity.type.in_(("edit", "new")),
        )
    )
    return found is not None
