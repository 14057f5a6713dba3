"""The store: the same migrations and code on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from community.constellations.models import PageTopicLink
from core.migrate import current_revision, downgrade, head_revision, upgrade
from core.models import InboxEvent, SyncCursor
from core.store import Store
from service.tables import metadata

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
    "practices",
    "practice_tag_names",
    "practice_topics",
    "practice_adoptions",
    "practice_suggestions",
    "people",
    "accounts",
    "link_suggestions",
    "connect_logins",
    "connect_nonces",
    "identity_decisions",
    "credit_ledger",
    "credit_totals",
    "credit_rescores",
    "badge_grants",
    "wiki_authorship",
    "health_snapshots",
    "health_alerts",
    "health_generations",
    "health_post_log",
    "automation_runs",
    "automation_marks",
    "automation_schedule_cursors",
    "automation_wiki_sections",
    "partners",
    "forum_first_posts",
    "dashboard_sessions",
    "api_tokens",
    "incoming_refusals",
    "sync_runs",
    "forum_budget_spends",
    "forum_budget_waiters",
    "forum_budget_state",
    "forum_topics",
    "forum_likes",
    "alembic_version",
}


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


def test_the_health_change_triggers_exist_at_the_head(store_url: str) -> None:
    """Migration 0024's triggers count what the incremental health figures read; SQLite's
    batch mode drops a table's triggers when a later migration copies it."""
    upgrade(store_url)
    engine = create_engine(store_url)
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with engine.connect() as connection:
        found = set(connection.execute(text(query)).scalars())
    engine.dispose()
    tables = (
        "forum_post_activity",
        "people",
        "accounts",
        "partners",
        "practices",
        "practice_adoptions",
        "leadership_changes",
        "wiki_change_activity",
        "forum_first_posts",
        "page_topic_links",
    )
    assert found == {f"health_{t}_{op}" for t in tables for op in ("insert", "update", "delete")}


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


@pytest.mark.parametrize(
    "kept", ["2026-11-21 07:30:00.000000", "2026-11-21 07:30:00", "2026-11-21T09:30:00+02:00"]
)
def test_sqlite_times_written_by_other_tools_read_as_utc(sqlite_url: str, kept: str) -> None:
    """The fast reading of SQLite's time text takes what other writers (a bulk load,
    SQLite's own functions) leave too."""
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    with store.session() as session:
        session.execute(
            text("INSERT INTO sync_cursors (name, value, updated_at) VALUES ('c', 'v', :at)"),
            {"at": kept},
        )
        read = session.get(SyncCursor, "c")
        assert read is not None
        assert read.updated_at == datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
        assert read.updated_at.utcoffset() == timedelta(0)
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
