"""The wiki's own push: the real MediaWiki sends its recent-changes feed (UDP, Redis) and
the listener records exactly the poll's event; forged and malformed messages record
nothing, are counted by reason, and the listener goes on."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from connectors.mediawiki import WikiChange
from connectors.mediawiki.feed import MAX_MESSAGE_BYTES
from core.clock import using
from core.config import load_config
from core.models import InboxEvent
from service.worker import Worker
from tests.clocks import FakeClock
from tests.conftest import SessionWiki
from tests.webhooks.wiki_feed_support import (
    T0,
    WAIT_SECONDS,
    feed_count,
    feed_settings,
    feed_uri,
    new_store,
    row_view,
    rows_about,
    served_with_feed,
    wait_until,
)
from webhooks.incoming import wiki_feed
from webhooks.incoming.wiki_feed import listening
from webhooks.incoming.wiki_poll import poll_wiki


@pytest.mark.parametrize("transport", ["udp", "redis"])
def test_an_edit_comes_through_the_feed_as_the_event_the_poll_makes(
    wiki: SessionWiki, tmp_path: Path, transport: str
) -> None:
    feed = feed_uri(transport)
    settings = feed_settings(wiki, feed)
    pushed, polled = new_store(tmp_path, "pushed.db"), new_store(tmp_path, "polled.db")
    for store in (pushed, polled):
        poll_wiki(store, settings, client=wiki.bot())  # the cursor: now
    title = wiki.title(f"Feed {transport}")

    with (
        served_with_feed(wiki, feed) as server,
        listening(pushed, settings, FakeClock(T0)) as listener,
    ):
        assert listener is not None
        wait_until(listener.ready.is_set)
        saved = wiki.human(url=server.url).edit(title, "Pushed.", summary="create", mode="create")
        wait_until(lambda: len(rows_about(pushed, title)) == 1)

    [row] = rows_about(pushed, title)
    assert listener.counts == {"recorded": 1}
    assert row.received_at == T0  # stamped by the listener's clock
    assert (row.kind, row.actor) == ("wiki.new", wiki.sandbox.human_username)
    assert row.payload["revid"] == saved.revid
    # Exactly the poll's event: another store that only polls records the same one.
    poll_wiki(polled, settings, client=wiki.bot())
    [expected] = rows_about(polled, title)
    assert row_view(row) == row_view(expected)
    # The poll sees it too and keeps it once; the feed brought it, so it is no gap.
    assert saved.timestamp is not None
    with using(FakeClock(saved.timestamp + timedelta(minutes=1))):
        report = poll_wiki(pushed, settings, client=wiki.bot())
    assert (report.recorded, report.duplicates, report.gaps) == (0, 1, [])
    assert [r.event_id for r in rows_about(pushed, title)] == [row.event_id]


def test_forged_and_malformed_messages_record_nothing_and_are_counted(
    wiki: SessionWiki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiki_feed, "CONFIRM_DELAYS", (0.05, 0.1))  # give up on forgeries soon
    feed = feed_uri("udp")
    address = urlsplit(feed)
    settings = feed_settings(wiki, feed)
    store = new_store(tmp_path)
    server_name, wiki_id = wiki.bot().site_identity()
    existing = wiki.title("Feed Existing")
    made = wiki.human().edit(existing, "Here.", summary="create", mode="create")
    assert made.timestamp is not None
    second = int(made.timestamp.timestamp())

    def message(**fields: Any) -> bytes:
        body = {
            "id": 1,
            "type": "edit",
            "namespace": 0,
            "title": existing,
            "timestamp": second,
            "user": "Mallory",
            "bot": False,
            "server_name": server_name,
            "wiki": wiki_id,
        }
        return json.dumps({**body, **fields}).encode()

    sent = {
        # Well-formed, from this wiki, naming changes its API does not list.
        "unconfirmed": [
            message(id=987_654_321, title=wiki.title("Feed Never Made")),
            message(id=987_654_322),  # a real page and second, a made-up change
        ],
        "not_json": [b"\xff\xfe\x00garbage", b'{"id": 1,'],
        "oversized": [b"{" + b" " * MAX_MESSAGE_BYTES + b"}"],
        "bad_fields": [
            json.dumps({"id": 1}).encode(),
            json.dumps([1, 2]).encode(),
            message(id="12"),
            message(timestamp=-5),
        ],
        "other_wiki": [message(server_name="wiki.example.org"), message(wiki="otherwiki")],
        "unknown_type": [message(type="external"), message(type="bogus")],
    }
    before = {outcome: feed_count(outcome) for outcome in [*sent, "recorded"]}
    poll_wiki(store, settings, client=wiki.bot())

    with (
        served_with_feed(wiki, feed) as server,
        listening(store, settings, FakeClock(T0)) as listener,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        assert listener is not None
        wait_until(listener.ready.is_set)
        for messages in sent.values():
            for raw in messages:
                sender.sendto(raw, (address.hostname, address.port))
        refusals = len([raw for messages in sent.values() for raw in messages])
        wait_until(lambda: sum(listener.counts.values()) == refusals)
        # Still listening: a real edit afterwards is recorded.
        title = wiki.title("Feed After Garbage")
        wiki.human(url=server.url).edit(title, "Real.", summary="create", mode="create")
        wait_until(lambda: listener.counts["recorded"] == 1)

    assert listener.counts == {"recorded": 1, **{k: len(v) for k, v in sent.items()}}
    for outcome, messages in sent.items():
        assert feed_count(outcome) - before[outcome] == len(messages)
    assert feed_count("recorded") - before["recorded"] == 1
    with store.session() as session:
        subjects = session.scalars(select(InboxEvent.subject)).all()
    assert subjects == [f"page:{title}"]


def test_the_worker_that_polls_hears_the_feed_and_lets_go_of_it_when_stopped(
    wiki: SessionWiki, tmp_path: Path
) -> None:
    feed = feed_uri("udp")
    store = new_store(tmp_path)
    off = {"wiki_poll_seconds": 0, "forum_poll_seconds": 0, "embedded": False}
    settings = load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "store": {"url": str(store.engine.url)},
            "wiki": {**wiki.config(), "feed": feed},
            "worker": {**off, "poll_seconds": 0.05},
            "health": {"recompute_minutes": 0},
            "automations": {"scan_seconds": 0},
        },
    )
    handled: list[str] = []
    worker = Worker(
        store,
        settings,
        handlers_for=lambda kind: (lambda event, _context: handled.append(event.event_id),),
        poll_platforms=True,
    )
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    title = wiki.title("Feed Worker")
    with served_with_feed(wiki, feed) as server:
        thread.start()
        try:
            wait_until(lambda: _bound(feed))
            wiki.human(url=server.url).edit(title, "Heard.", summary="create", mode="create")
            wait_until(lambda: [r.state for r in rows_about(store, title)] == ["done"])
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    assert handled == [rows_about(store, title)[0].event_id]
    assert not _bound(feed)  # the listener let go of its port


def _bound(feed: str) -> bool:
    """Whether someone listens on the feed's UDP address."""
    address = urlsplit(feed)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address.hostname, address.port))
        except OSError:
            return True
    return False


class Replay:
    """A feed source handing over recorded messages all at once, then nothing."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = messages

    def receive(self, timeout: float) -> list[bytes]:
        messages, self.messages = self.messages, []
        return messages

    def close(self) -> None:
        pass


class CountedLookups:
    """The bot's client, counting the look-ups the listener makes."""

    def __init__(self, wiki: SessionWiki) -> None:
        self.client = wiki.bot()
        self.windows: list[str | None] = []

    def changes_between(
        self, start: datetime, end: datetime, *, title: str | None = None
    ) -> Iterator[WikiChange]:
        self.windows.append(title)
        return self.client.changes_between(start, end, title=title)

    def site_identity(self) -> tuple[str, str]:
        return self.client.site_identity()


def test_a_burst_of_hints_is_confirmed_with_one_look_up_and_a_replay_records_nothing(
    wiki: SessionWiki, tmp_path: Path
) -> None:
    feed = feed_uri("udp")
    address = urlsplit(feed)
    titles = [wiki.title("Feed Burst") for _ in range(3)]
    # What MediaWiki sent for three saves, caught on the feed's address.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as catcher,
        served_with_feed(wiki, feed) as server,
    ):
        catcher.bind((address.hostname, address.port))
        catcher.settimeout(WAIT_SECONDS)
        editor = wiki.human(url=server.url)
        for title in titles:
            editor.edit(title, "In a burst.", summary="create", mode="create")
        sent = [catcher.recv(65536) for _ in titles]
    store = new_store(tmp_path)
    lookups = CountedLookups(wiki)
    listener = wiki_feed.FeedListener(
        store, feed_settings(wiki, feed), source=Replay(sent * 2), client=lookups
    )

    listener.step(timeout=0)

    assert lookups.windows == [None]  # one window of the recent changes, no title
    assert listener.counts == {"recorded": 3, "duplicate": 3}  # the repeats in the batch
    assert [len(rows_about(store, title)) for title in titles] == [1, 1, 1]
    listener.source = Replay(sent)
    listener.step(timeout=0)
    assert listener.counts == {"recorded": 3, "duplicate": 6}  # the inbox had them
    assert lookups.windows == [None, None]
