"""For the wiki feed's tests: the session's wiki served again with a feed, stores, waits."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from core import telemetry
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from sandbox.wiki import WikiServer
from tests.conftest import REDIS_URL, SessionWiki

WAIT_SECONDS = 15.0  # a deadline, not a pause: waits end as soon as their condition holds
T0 = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # the listeners' clock: what they stamp


def feed_uri(transport: str) -> str:
    """A feed nobody else uses: a free loopback UDP port, or a fresh Redis channel."""
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return f"udp://127.0.0.1:{sock.getsockname()[1]}"
    redis = urlsplit(REDIS_URL)
    return f"redis://{redis.hostname}:{redis.port or 6379}/constellate-test-{uuid.uuid4().hex}"


@contextmanager
def served_with_feed(wiki: SessionWiki, feed: str) -> Iterator[WikiServer]:
    """The session's wiki (same pages and accounts) served on another port by a server
    whose MediaWiki pushes every change it records to ``feed``."""
    with WikiServer(wiki.sandbox, feed=feed) as server:
        yield server


def feed_settings(wiki: SessionWiki, feed: str) -> dict[str, Any]:
    return {"wiki": {**wiki.config(), "feed": feed}}


def new_store(folder: Path, name: str = "feed.db") -> Store:
    url = f"sqlite:///{folder / name}"
    upgrade(url)
    return Store(url)


def wait_until(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {seconds} s")
        time.sleep(0.02)


def rows_about(store: Store, title: str) -> list[InboxEvent]:
    with store.session() as session:
        query = select(InboxEvent).where(InboxEvent.subject == f"page:{title}")
        return list(session.scalars(query.order_by(InboxEvent.id)))


def row_view(row: InboxEvent) -> tuple[Any, ...]:
    """What an inbox row says about its change (not when or how it arrived)."""
    return (
        row.event_id,
        row.kind,
        row.source,
        row.subject,
        row.actor,
        row.occurred_at,
        row.delivery_id,
        row.payload,
    )


def feed_count(outcome: str) -> float:
    """This process's ``constellate_wiki_feed_messages_total`` for ``outcome``."""
    value = telemetry.LOCAL.get_sample_value(
        "constellate_wiki_feed_messages_total", {"outcome": outcome}
    )
    return value or 0.0


def gap_count() -> float:
    return telemetry.LOCAL.get_sample_value("constellate_wiki_feed_gaps_total") or 0.0
