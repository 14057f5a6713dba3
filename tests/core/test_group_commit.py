"""Group commit: webhooks a process handles share a transaction, and none is answered 2xx
before the transaction holding its event has committed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from core import clock, inbox
from core.events import Event
from core.group_commit import CommitFailed, GroupCommitter
from core.migrate import upgrade
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


def row(number: int, *, dedupe: str | None = None) -> dict[str, Any]:
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
    return inbox.row_values(made, received_at=now, available_at=now)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'group.db'}"
    upgrade(url)
    made = Store(url)
    yield made
    made.dispose()


def count_commits(store: Store) -> list[int]:
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    return commits


def test_rows_waiting_together_share_one_commit(store: Store) -> None:
    commits = count_commits(store)
    committer = GroupCommitter(store.engine)
    gate = threading.Event()
    first_started = threading.Event()
    original = inbox.record_rows

    def slow_first(connection: Any, rows: list[dict[str, Any]]) -> list[bool]:
        if not first_started.is_set():
            first_started.set()
            gate.wait(5)  # the first batch commits while the others queue up
        return original(connection, rows)

    results: dict[int, bool] = {}
    pytest.MonkeyPatch().setattr(inbox, "record_rows", slow_first)

    def send(number: int) -> None:
        results[number] = committer.record(row(number))

    threads = [threading.Thread(target=send, args=(0,))]
    threads[0].start()
    assert first_started.wait(5)
    threads += [threading.Thread(target=send, args=(n,)) for n in range(1, 9)]
    for thread in threads[1:]:
        thread.start()
    while committer._queue.qsize() < 8:  # all eight handed over, none committed
        threading.Event().wait(0.01)
    assert results == {}
    gate.set()
    for thread in threads:
        thread.join(5)
    committer.stop()
    assert results == {n: True for n in range(9)}
    assert len(commits) == 2  # the first row alone, then the eight that waited for it


def test_the_same_event_twice_in_one_batch_is_stored_once(store: Store) -> None:
    with store.engine.begin() as connection:
        stored = inbox.record_rows(
            connection, [row(1), row(1), row(2, dedupe="k"), row(3, dedupe="k")]
        )
    assert stored == [True, False, True, False]
    committer = GroupCommitter(store.engine)
    assert committer.record(row(1)) is False  # already in the inbox
    committer.stop()


def test_a_failed_commit_fails_every_request_of_its_batch(store: Store) -> None:
    def refuse(_conn: Any) -> None:
        raise RuntimeError("disk full")

    event.listen(store.engine, "commit", refuse)
    committer = GroupCommitter(store.engine)
    with pytest.raises(CommitFailed, match="disk full"):
        committer.record(row(1))
    event.remove(store.engine, "commit", refuse)
    assert committer.record(row(1)) is True  # nothing of the failed batch was kept
    committer.stop()


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
    engine = get_store(incoming_app).engine

    def refuse(_conn: Any) -> None:
        raise RuntimeError("the disk is gone")

    event.listen(engine, "commit", refuse)
    headers, raw = delivery(9002)
    response = incoming_client.post(URL, data=raw, headers=headers)
    event.remove(engine, "commit", refuse)
    assert response.status_code == 503  # Discourse delivers it again
    assert "deliver it again" in response.get_json()["error"]
    assert inbox_count(incoming_app) == 0
    again = incoming_client.post(URL, data=raw, headers=headers)
    assert again.status_code == 202
    assert inbox_count(incoming_app) == 1
