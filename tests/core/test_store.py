"""The store: the same migrations and code on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from core.migrate import current_revision, downgrade, head_revision, upgrade
from core.models import InboxEvent, PageTopicLink, SyncCursor
from core.store import Store
from core.tables import metadata

# The local PostgreSQL server; scripts/test.sh starts it and creates this role.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://constellate:constellate@127.0.0.1:5432/postgres"
)
TABLES = {
    "sync_cursors",
    "page_topic_links",
    "inbox_events",
    "webhook_subscriptions",
    "outgoing_messages",
    "delivery_attempts",
    "forum_post_activity",
    "wiki_change_activity",
    "sync_issues",
    "leadership_changes",
    "wiki_section_states",
    "alembic_version",
}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    name = f"constellate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


def test_migrations_create_every_table_and_go_back(store_url: str) -> None:
    assert current_revision(store_url) is None
    upgrade(store_url)
    assert current_revision(store_url) == head_revision()
    engine = create_engine(store_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    downgrade(store_url, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(store_url)  # and forward again
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_migrations_match_the_models(store_url: str) -> None:
    """A model changed without a migration fails here."""
    upgrade(store_url)
    engine = create_engine(store_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    engine.dispose()


def post_created(happened: datetime) -> InboxEvent:
    return InboxEvent(
        event_id="forum:post_created:17",
        kind="post_created",
        source="forum",
        subject="post:17",
        occurred_at=happened,
        payload={"post": {"id": 17, "raw": "héllo ✓"}},
    )


def test_rows_round_trip_with_aware_times_and_unique_keys(store_url: str) -> None:
    upgrade(store_url)
    store = Store(store_url)
    happened = datetime(2026, 11, 21, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with store.session() as session:
        session.add(SyncCursor(name="wiki.recentchanges", value="2026-11-21T07:30:00Z|41"))
        session.add(post_created(happened))
    with store.session() as session:
        event = session.scalars(select(InboxEvent)).one()
        assert event.occurred_at == happened
        assert event.occurred_at.tzinfo is not None
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert event.payload["post"]["raw"] == "héllo ✓"
        assert event.state == "pending" and event.attempts == 0
        cursor = session.get(SyncCursor, "wiki.recentchanges")
        assert cursor is not None and cursor.updated_at <= datetime.now(UTC)
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(post_created(happened))
    with store.session() as session:  # the failed transaction left nothing behind
        assert len(session.scalars(select(InboxEvent)).all()) == 1
    with pytest.raises(IntegrityError), store.session() as session:
        session.add_all(
            [
                PageTopicLink(wiki_page_id=1, wiki_title="A", external_id="wiki-1"),
                PageTopicLink(wiki_page_id=2, wiki_title="B", external_id="wiki-1"),
            ]
        )
    store.dispose()


def test_naive_times_are_refused(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    with pytest.raises(Exception, match="naive datetime"), store.session() as session:
        session.add(SyncCursor(name="x", value="y", updated_at=datetime(2026, 1, 1)))
    store.dispose()


def test_sqlite_connections_are_durable_and_strict(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": 2,
    }
    store.dispose()
