"""Group commit: webhooks a process handles share a transaction, and none is answered 2xx
before the transaction holding its event has committed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from core import clock, inbox_rows
from core.driver import sqlite_file
from core.events import Event
from core.group_commit import CommitFailed, GroupCommitter
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store, get_store
from tests.webhooks.incoming_support import (
    URL,
    inbox_count,
    incoming_app,
    incoming_client,
    incoming_settings,
    load_fixture,
    sign,
    wire_body,
)

__all__ = ["incoming_app", "incoming_client", "incoming_settings"]  # fixtures used here


def row(number: int, *, dedupe: str | None = None) -> list[Any]:
    now = clock.now()
    made = Event(
        event_id=f"forum:post_created:post:{number}",
        kind="forum.post_created",
        source="forum",
        subject=f"post:{number}",
        actor="ann",
        occurred_at=now,
        delivery_id=None,
        payload={"post": {"id": number}},
        dedupe_key=dedupe,
    )
    return inbox_rows.row(made, "sqlite", received_at=now, available_at=now)


def events_stored(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent)) or 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'group.db'}"
    upgrade(url)
    made = Store(url)
    yield made
    made.dispose()


@contextmanager
def refuse_inserts(database: str, message: str) -> Iterator[None]:
    """A real failure of the database: a trigger aborts every insert into the inbox."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON inbox_events "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )
    try:
        yield
    finally:
        connection.execute("DROP TRIGGER refuse")
        connection.close()


def test_rows_waiting_together_share_one_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []  # each batch is one transaction
    committer = GroupCommitter(store.database.url)
    gate = threading.Event()
    first_started = threading.Event()
    original = inbox_rows.record_rows

    def slow_first(connection: Any, dialect: str, rows: list[list[Any]]) -> list[bool]:
        batches.append(len(rows))
        if not first_started.is_set():
            first_started.set()
            gate.wait(5)  # the first batch commits while the others queue up
        return original(connection, dialect, rows)

    results: dict[int, bool] = {}
    monkeypatch.setattr(inbox_rows, "record_rows", slow_first)  # undone after the test

    def send(number: int) -> None:
        results[number] = committer.record(row(number))

    threads = [threading.Thread(target=send, args=(0,))]
    threads[0].start()
    assert first_started.wait(5)
    threads += [threading.Thread(target=send, args=(n,)) for n in range(1, 9)]
    for thread in threads[1:]:
        thread.start()
    while len(committer._waiting) < 8:  # all eight waiting, none committed
        threading.Event().wait(0.01)
    assert results == {}
    gate.set()
    for thread in threads:
        thread.join(5)
    committer.stop()
    assert results == {n: True for n in range(9)}
    assert batches == [1, 8]  # the first row alone, then the eight that waited for it
    assert events_stored(store) == 9


def test_the_same_event_twice_in_one_batch_is_stored_once(store: Store) -> None:
    rows = [row(1), row(1), row(2, dedupe="k"), row(3, dedupe="k")]
    with store.database.cursor() as cursor:
        stored = inbox_rows.record_rows(cursor.connection, "sqlite", rows)
    assert stored == [True, False, True, False]
    committer = GroupCommitter(store.database.url)
    assert committer.record(row(1)) is False  # already in the inbox
    committer.stop()


def test_a_failed_commit_fails_every_request_of_its_batch(store: Store) -> None:
    committer = GroupCommitter(store.database.url)
    refused = refuse_inserts(sqlite_file(store.database.url) or "", "disk full")
    with refused, pytest.raises(CommitFailed, match="disk full"):
        committer.record(row(1))
    assert committer.record(row(1)) is True  # nothing of the failed batch was kept
    committer.stop()
    assert events_stored(store) == 1


# -- through the endpoint --------------------------------------------------------------------


def delivery(number: int) -> tuple[dict[str, str], bytes]:
    data = load_fixture("post__post_created")
    body = data["body"]
    body["post"]["id"] = number
    raw = wire_body(body)
    return dict(data["headers"]) | {"X-Discourse-Event-Signature": sign(raw)}, raw


def test_no_webhook_is_answered_before_its_event_is_committed(
    incoming_app: Flask, incoming_client: FlaskClient, incoming_settings: dict[str, Any]
) -> None:
    # Another writer holds SQLite's write lock: the event cannot commit yet.
    database = incoming_settings["store"]["url"].removeprefix("sqlite:///")
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    answers: list[int] = []
    headers, raw = delivery(9001)
    sender = threading.Thread(
        target=lambda: answers.append(
            incoming_client.post(URL, data=raw, headers=headers).status_code
        )
    )
    sender.start()
    sender.join(0.5)
    assert sender.is_alive() and answers == []  # waiting for its commit, unanswered
    assert inbox_count(incoming_app) == 0  # and not yet committed
    blocker.execute("COMMIT")
    blocker.close()
    sender.join(10)
    assert answers == [202]
    assert inbox_count(incoming_app) == 1


def test_a_webhook_whose_commit_failed_is_answered_5xx_and_not_stored(
    incoming_app: Flask, incoming_client: FlaskClient
) -> None:
    database = get_store(incoming_app).engine.url.database or ""
    headers, raw = delivery(9002)
    with refuse_inserts(database, "the disk is gone"):
        response = incoming_client.post(URL, data=raw, headers=headers)
    assert response.status_code == 503  # Discourse delivers it again
    assert "deliver it again" in response.get_json()["error"]
    assert inbox_count(incoming_app) == 0
    again = incoming_client.post(URL, data=raw, headers=headers)
    assert again.status_code == 202
    assert inbox_count(incoming_app) == 1
