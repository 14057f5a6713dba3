"""Hearing the wiki's recent-changes feed (``$wgRCFeeds``): raw messages, nothing more.

MediaWiki sends every change it records as one line of JSON (``JSONRCFeedFormatter``),
as a UDP datagram (``UDPRCFeedEngine``) or published on a Redis pub/sub channel
(``RedisPubSubFeedEngine``, which takes the channel from the URI's path, ``/`` becoming
``.``). What a message says is judged by the caller; here it is only received.

A source is ``udp://HOST:PORT`` (the address to bind: the one the wiki sends to; port 0
takes a free one, see ``address``) or ``redis://[:PASSWORD@]HOST[:PORT]/CHANNEL``, the
same URI the wiki is given.
"""

from __future__ import annotations

import select
import socket
from typing import Protocol
from urllib.parse import urlsplit

import redis
from redis.exceptions import RedisError

from core.errors import ConfigError, Unavailable

# MediaWiki's messages are a few hundred bytes (a comment is capped at 1,000 characters);
# anything larger than this is not one of them and is never read whole.
MAX_MESSAGE_BYTES = 32 * 1024
# Messages handed over at once: a burst is confirmed with one API request per batch.
BATCH = 200


class FeedSource(Protocol):
    def receive(self, timeout: float) -> list[bytes]:
        """The messages that arrived, waiting up to ``timeout`` seconds for the first
        (an empty list when none did). A message longer than ``MAX_MESSAGE_BYTES`` is
        handed over cut to one byte more, so the caller can tell it was too long."""
        ...

    def close(self) -> None: ...


class UdpFeed:
    """Datagrams to one bound address."""

    def __init__(self, host: str, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"wiki.feed: cannot listen on udp://{host}:{port}: {exc}") from None
        self._socket.setblocking(False)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def receive(self, timeout: float) -> list[bytes]:
        readable, _, _ = select.select([self._socket], [], [], max(0.0, timeout))
        messages: list[bytes] = []
        while readable and len(messages) < BATCH:
            try:
                # A longer datagram is cut to this size by the kernel: still "too long".
                messages.append(self._socket.recv(MAX_MESSAGE_BYTES + 1))
            except BlockingIOError:
                break
            except OSError:  # an ICMP error left on the socket; the next read goes on
                continue
        return messages

    def close(self) -> None:
        self._socket.close()


class RedisFeed:
    """Messages published on one Redis pub/sub channel."""

    def __init__(self, url: str, channel: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=5)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self.channel = channel
        try:
            self._pubsub.subscribe(channel)
        except RedisError as exc:
            self.close()
            raise Unavailable(f"wiki feed: Redis: {exc}", platform="wiki") from exc

    def receive(self, timeout: float) -> list[bytes]:
        messages: list[bytes] = []
        wait = max(0.0, timeout)
        try:
            while len(messages) < BATCH:
                message = self._pubsub.get_message(timeout=wait)
                if message is None:
                    break
                wait = 0.0  # only the first is waited for
                if message.get("type") == "message":
                    data = message["data"]
                    raw = data if isinstance(data, bytes) else str(data).encode()
                    messages.append(raw[: MAX_MESSAGE_BYTES + 1])
        except RedisError as exc:
            if not messages:
                raise Unavailable(f"wiki feed: Redis: {exc}", platform="wiki") from exc
        return messages

    def close(self) -> None:
        try:
            self._pubsub.close()
        finally:
            self._client.close()


def open_feed(uri: str) -> UdpFeed | RedisFeed:
    """The source a ``wiki.feed`` URI names (ConfigError when it names none; Unavailable
    when Redis cannot be reached)."""
    parts = urlsplit(uri)
    if parts.scheme == "udp" and parts.hostname and parts.port is not None:
        return UdpFeed(parts.hostname, parts.port)
    if parts.scheme == "redis" and parts.hostname and parts.path.strip("/"):
        # The channel as MediaWiki names it; the connection without the path.
        channel = parts.path.lstrip("/").replace("/", ".")
        server = parts._replace(path="", query="", fragment="").geturl()
        return RedisFeed(server, channel)
    raise ConfigError(
        f"wiki.feed: {parts.scheme}://{parts.hostname or ''} is neither udp://HOST:PORT"
        " nor redis://HOST[:PORT]/CHANNEL"
    )
