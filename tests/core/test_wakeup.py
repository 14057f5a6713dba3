"""Waking workers: in one process, and across processes through the real local Redis."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from core import wakeup
from core.config import DEFAULTS, Settings
from core.wakeup import BACKLOG, Embedded, RedisQueue, open_channel, queue_name


def settings(queue_url: str, store_url: str, poll_seconds: float = 1) -> Settings:
    made: Settings = {section: dict(values) for section, values in DEFAULTS.items()}
    made["queue"]["url"] = queue_url
    made["store"]["url"] = store_url
    made["worker"]["poll_seconds"] = poll_seconds
    return made


def waited(channel: wakeup.Channel, seconds: float) -> bool:
    """True when ``wait`` returned because of a wake-up, not because time ran out."""
    done = threading.Event()

    def wait() -> None:
        channel.wait(seconds)
        done.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    thread.join(seconds / 2)
    return done.is_set()


@pytest.fixture
def store_named(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_embedded_wakes_a_waiting_thread() -> None:
    channel = Embedded()
    channel.notify()
    assert waited(channel, 30)  # woken before: returns at once
    assert not waited(channel, 0.4)  # the wake-up was used up


def test_redis_wakes_a_worker_in_another_process_and_caps_the_backlog(
    redis_url: str, store_named: str
) -> None:
    web = open_channel(settings(redis_url, store_named, poll_seconds=30))
    worker = open_channel(settings(redis_url, store_named, poll_seconds=30))
    assert isinstance(web, RedisQueue) and isinstance(worker, RedisQueue)
    storage = web.huey.storage
    storage.flush_queue()
    try:
        web.notify()
        assert waited(worker, 30)  # the other "process" heard it through Redis
        for _ in range(BACKLOG * 3):  # a burst leaves a bounded backlog behind
            web.notify()
        assert storage.queue_size() == BACKLOG
    finally:
        storage.flush_queue()


def test_each_store_has_its_own_queue(redis_url: str, tmp_path: Path) -> None:
    one = f"sqlite:///{tmp_path / 'one.db'}"
    other = "postgresql+psycopg://constellate:secret@127.0.0.1/other"
    assert queue_name(one) != queue_name(other)
    assert "secret" not in queue_name(other)
    # the password does not change which store it is
    assert queue_name(other) == queue_name(other.replace("secret", "rotated"))
    first = open_channel(settings(redis_url, one, poll_seconds=30))
    second = open_channel(settings(redis_url, other, poll_seconds=30))
    assert isinstance(first, RedisQueue) and isinstance(second, RedisQueue)
    first.huey.storage.flush_queue()
    second.huey.storage.flush_queue()
    first.notify()
    assert not waited(second, 2)  # another deployment's wake-up is not ours
    assert waited(first, 30)


def test_an_unreachable_redis_falls_back_to_polling(
    store_named: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: every Redis call fails at once.
    channel = open_channel(settings("redis://127.0.0.1:1/0", store_named, poll_seconds=1))
    with caplog.at_level(logging.WARNING, logger="core.wakeup"):
        channel.notify()  # the event is in the store already: this must not raise
        channel.notify()
        channel.wait(0.2)  # waits the poll interval instead
    complaints = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(complaints) == 1  # once per outage, not per event


def test_configuring_the_same_queue_keeps_the_channel(redis_url: str, store_named: str) -> None:
    wakeup.configure(settings("embedded", store_named))
    kept = wakeup._channel
    wakeup.configure(settings("embedded", store_named))
    assert wakeup._channel is kept  # threads waiting on it still hear wake()
    wakeup.configure(settings(redis_url, store_named))
    assert isinstance(wakeup._channel, RedisQueue)
    wakeup.configure(settings("embedded", store_named))
    assert isinstance(wakeup._channel, Embedded)
