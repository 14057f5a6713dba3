"""The kept first posts: the full rebuild repairs what differs and writes nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.health.first_posts import ForumFirstPost, rebuild_first_posts
from core.store import Store

DAY = datetime(2026, 3, 1, 9, tzinfo=UTC)


def post(session: Session, post_id: int, username: str, days: int) -> None:
    at = DAY + timedelta(days=days)
    session.add(
        ForumPostActivity(
            post_id=post_id,
            topic_id=post_id,
            category_id=1,
            username=username,
            post_number=1,
            created_at=at,
            updated_at=at,
        )
    )


def kept(session: Session) -> dict[str, tuple[int, datetime, datetime | None]]:
    rows = session.scalars(select(ForumFirstPost)).all()
    return {row.username: (row.first_post_id, row.first_at, row.second_at) for row in rows}


@contextmanager
def writes(store: Store) -> Iterator[list[str]]:
    """The data-changing statements sent while the block runs."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_the_rebuild_repairs_rows_and_writes_nothing_when_they_are_right(store: Store) -> None:
    with store.session() as session:
        post(session, 1, "ana", 0)
        post(session, 2, "ana", 3)
        post(session, 3, "ben", 1)
        session.add(ForumFirstPost(username="ben", first_post_id=99, first_at=DAY))  # wrong
        session.add(ForumFirstPost(username="gone", first_post_id=98, first_at=DAY))  # no posts
    with store.session() as session:
        assert rebuild_first_posts(session) == 2
    with store.session() as session:
        assert kept(session) == {
            "ana": (1, DAY, DAY + timedelta(days=3)),
            "ben": (3, DAY + timedelta(days=1), None),
        }
    with writes(store) as sent, store.session() as session:
        assert rebuild_first_posts(session) == 2
    assert sent == []  # right already: no write, so no write lock taken
