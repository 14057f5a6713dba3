"""Each forum account's first two counted posts, kept so newcomer figures need no scan of
a person's whole history.

Kept per account (a moderator may link accounts later; the loader combines a person's
accounts). A post event refreshes its author's row from their own posts (a deleted first
post makes the next one first); ``rebuild_first_posts`` redoes every row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from community.activity import ForumPostActivity
from community.health.conversation import REGULAR_POST
from core.models import Base, UTCDateTime
from core.store import dialect_insert


class ForumFirstPost(Base):
    __tablename__ = "forum_first_posts"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_post_id: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    second_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def countable() -> list[ColumnElement[bool]]:
    """Post-level conditions of a counted post (the author is checked by the reader)."""
    post = ForumPostActivity
    return [
        post.deleted.is_(False),
        post.hidden.is_(False),
        post.private.is_(False),
        post.post_type == REGULAR_POST,
    ]


def refresh_first_posts(session: Session, usernames: Iterable[str]) -> None:
    """Recompute the rows of these accounts from their posts (two indexed rows each)."""
    post = ForumPostActivity
    for username in set(usernames):
        rows = session.execute(
            select(post.post_id, post.created_at)
            .where(post.username == username, *countable())
            .order_by(post.created_at, post.post_id)
            .limit(2)
        ).all()
        if not rows:
            session.execute(delete(ForumFirstPost).where(ForumFirstPost.username == username))
            continue
        values = {
            "first_post_id": rows[0][0],
            "first_at": rows[0][1],
            "second_at": rows[1][1] if len(rows) > 1 else None,
        }
        session.execute(
            dialect_insert(session, ForumFirstPost)
            .values(username=username, **values)
            .on_conflict_do_update(index_elements=["username"], set_=values)
        )


def rebuild_first_posts(session: Session) -> int:
    """Every account's row, from its first index entries; returns how many. Only
    rows that differ are written: the repair is usually a no-op and then takes no write
    lock (SQLite has one, and the full recompute runs while events arrive)."""
    post = ForumPostActivity
    # Per account, its first two counted posts from the (username, time) index: a few
    # index entries per account instead of ranking every post.
    names = select(post.username).distinct().subquery()

    def nth(column: Any, offset: int) -> Any:
        return (
            select(column)
            .where(post.username == names.c.username, *countable())
            .order_by(post.created_at, post.post_id)
            .offset(offset)
            .limit(1)
            .scalar_subquery()
        )

    rows = session.execute(
        select(
            names.c.username,
            nth(post.post_id, 0),
            nth(post.created_at, 0),
            nth(post.created_at, 1),
        )
    ).all()
    found: dict[str, tuple[int, datetime, datetime | None]] = {
        username: (post_id, first_at, second_at)
        for username, post_id, first_at, second_at in rows
        if post_id is not None
    }
    first = ForumFirstPost
    kept = {
        username: (post_id, first_at, second_at)
        for username, post_id, first_at, second_at in session.execute(
            select(first.username, first.first_post_id, first.first_at, first.second_at)
        )
    }
    gone = [username for username in kept if username not in found]
    if gone:
        session.execute(delete(first).where(first.username.in_(gone)))
    changed = [
        {"username": username, "first_post_id": post_id, "first_at": at, "second_at": second}
        for username, (post_id, at, second) in found.items()
        if kept.get(username) != (post_id, at, second)
    ]
    if changed:
        # One statement for every changed row (executemany), not one per account.
        insert = dialect_insert(session, first)
        session.flush()  # the connection's statements skip the session's autoflush
        session.connection().execute(
            insert.on_conflict_do_update(
                index_elements=["username"],
                set_={
                    "first_post_id": insert.excluded.first_post_id,
                    "first_at": insert.excluded.first_at,
                    "second_at": insert.excluded.second_at,
                },
            ),
            changed,
        )
    return len(found)
