"""What wakes idle workers when work arrives. The store is the record of the work (the
inbox, the outgoing queue); a wake-up only shortens the wait, so a lost one costs at
most one poll interval and nothing else.

``queue.url = "embedded"``: an event inside the process, for the worker threads of the
one-process default. A Redis URL: Huey's Redis queue (RedisHuey's storage), so a web
process on one machine wakes a worker on another; idle workers block on the queue until
a wake-up arrives or the poll interval passes. Huey delivers at most once, which is all
a wake-up needs: it never carries the work itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Protocol

from core.config import Settings
from core.driver import without_password

log = logging.getLogger(__name__)

WAKE = b"wake"
# Wake-ups waiting beyond this many add nothing: a woken worker drains every due event.
BACKLOG = 64


class Channel(Protocol):
    def notify(self) -> None: ...

    def wait(self, seconds: float) -> None: ...


class Embedded:
    """Threads of one process."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)
        self._event.clear()


class RedisQueue:
    """Processes on any number of machines, through one Redis list per store."""

    def __init__(self, url: str, name: str, poll_seconds: float) -> None:
        from huey import RedisHuey  # here: a process without a Redis queue never loads it

        # read_timeout is how long an idle worker blocks before it polls the store anyway.
        self.huey = RedisHuey(name, url=url, blocking=True, read_timeout=max(1, poll_seconds))
        self._local = Embedded()  # what idle workers wait on while Redis is unreachable
        self._complained = False

    def notify(self) -> None:
        from redis.exceptions import RedisError  # loaded with Huey by __init__

        self._local.notify()
        try:
            storage = self.huey.storage
            if storage.queue_size() < BACKLOG:
                storage.enqueue(WAKE)
            self._complained = False
        except RedisError as exc:  # the event is stored; workers find it on their next poll
            self._complain(exc)

    def wait(self, seconds: float) -> None:
        from redis.exceptions import RedisError

        try:
            self.huey.storage.dequeue()
            self._complained = False
        except RedisError as exc:
            self._complain(exc)
            self._local.wait(seconds)

    def _complain(self, exc: Exception) -> None:
        if not self._complained:  # once per outage, not once per event
            log.warning("queue: Redis unavailable, workers fall back to polling: %s", exc)
        self._complained = True


def queue_name(store_url: str) -> str:
    """One queue per store, so several deployments can share a Redis server: named after
    the store's address without its password."""
    address = without_password(store_url)
    return "constellate-" + hashlib.sha256(address.encode()).hexdigest()[:16]


def open_channel(settings: Settings) -> Channel:
    url = str(settings["queue"]["url"])
    if url == "embedded":
        return Embedded()
    name = queue_name(settings["store"]["url"])
    return RedisQueue(url, name, float(settings["worker"]["poll_seconds"]))


def _identity(settings: Settings) -> tuple[str, str]:
    url = str(settings["queue"]["url"])
    return (url, "" if url == "embedded" else queue_name(settings["store"]["url"]))


_channel: Channel = Embedded()
_current = ("embedded", "")
_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Use the configured queue in this process (the app factory and commands call it).
    The same queue configured again keeps its channel: threads already waiting on it
    must still be woken."""
    global _channel, _current
    with _lock:
        if _identity(settings) != _current:
            _channel, _current = open_channel(settings), _identity(settings)


def notify() -> None:
    """Tell idle workers, here or on other machines, to look at the store now; call it
    after the commit that recorded the work."""
    _channel.notify()


def wait(seconds: float) -> None:
    """Block until a wake-up arrives or ``seconds`` pass (Redis: its read timeout)."""
    _channel.wait(seconds)
