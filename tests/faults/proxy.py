"""A fault-injecting reverse proxy between the service and the wiki or forum sandbox.

Every request is forwarded to the upstream unless the deck deals it a fault. The deck is
100 cards, ``round(rate * 100)`` of each fault and the rest blank, shuffled by a seeded
random generator: every hundred requests carry exactly the configured share of each
fault, in an order the seed decides. The faults:

- ``rate_limit``: 429 with a wait. The forum's is Discourse's JSON body with
  ``extras.wait_seconds`` and ``Retry-After``; the wiki's is either an HTTP 429 with
  ``Retry-After`` or MediaWiki's ``ratelimited`` API error (which names no wait).
- ``unavailable``: 503.
- ``maxlag`` (wiki only): MediaWiki's lag answer, HTTP 200 with the ``maxlag`` error body
  and ``Retry-After`` and ``X-Database-Lag`` headers.
- ``timeout``: no answer; the connection is held until the client gives up (or
  ``hold_seconds`` pass), then closed.
- ``reset``: the socket is closed with a TCP RST (SO_LINGER 0).
- ``cut_body``: the upstream's answer with its full Content-Length but half its body.

``timeout`` and ``reset`` strike before or after forwarding (a seeded coin). After, and
always for ``cut_body``, the upstream has applied the request while the client cannot
know it: the case that tests whether retried writes duplicate anything.

Every request is recorded (when, which connection, method, path, fault, the wait asked,
the wiki's own API error), so tests can check the share of faults and that asked waits
were kept. ``force`` puts chosen faults on the next requests, for single-fault tests.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import select
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

Platform = Literal["wiki", "forum"]
FAULTS = ("rate_limit", "unavailable", "maxlag", "timeout", "reset", "cut_body")
DECK = 100  # requests per shuffled deck; rates are dealt in hundredths
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
DATABASE_LAG = 7  # seconds the maxlag answer claims the replicas are behind


@dataclass(frozen=True)
class Record:
    """One request as the proxy saw it."""

    at: float  # time.monotonic() when the request had been read
    answered_at: float  # just before the answer (or the fault) went out
    connection: int  # the client connection's serial number (one client's pool entry)
    method: str
    path: str
    fault: str | None
    forwarded: bool  # the upstream received (and so may have applied) the request
    status: int | None  # the status the client was sent, if any
    wait: float | None  # seconds the answer told the client to wait, if it did
    api_error: str | None = None  # MediaWiki-API-Error of an upstream answer (its own)


@dataclass(frozen=True)
class WaitCheck:
    """A wait the proxy asked for and how long the same connection then stayed quiet."""

    asked: Record
    wait: float
    gap: float | None  # None: the connection sent nothing more

    @property
    def hurried(self) -> bool:
        """The same connection asked again before the wait was over."""
        return self.gap is not None and self.gap < self.wait


def check_rates(rates: Mapping[str, float], platform: Platform) -> dict[str, float]:
    """The rates, checked: known faults, each a probability, together at most 1."""
    checked: dict[str, float] = {}
    for fault, rate in rates.items():
        if fault not in FAULTS:
            raise ValueError(f"rates[{fault!r}]: unknown fault; expected one of {FAULTS}")
        if fault == "maxlag" and platform != "wiki":
            raise ValueError("rates['maxlag']: only the wiki has maxlag answers")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError(f"rates[{fault!r}]: {rate!r} is not a probability in [0, 1]")
        checked[fault] = float(rate)
    total = sum(checked.values())
    if total > 1 + 1e-9 or sum(round(rate * DECK) for rate in checked.values()) > DECK:
        raise ValueError(f"rates: they add up to {total:.3f}, more than 1")
    return checked


class FaultProxy:
    """A reverse proxy on 127.0.0.1 in front of ``upstream`` (a base URL, http only)."""

    def __init__(
        self,
        upstream: str,
        *,
        platform: Platform,
        rates: Mapping[str, float],
        seed: int,
        wait_seconds: int = 1,
        hold_seconds: float = 5.0,
        upstream_timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(upstream.rstrip("/"))
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"upstream {upstream!r}: expected http://host:port[/path]")
        if wait_seconds < 1:
            raise ValueError(f"wait_seconds {wait_seconds!r}: Retry-After needs whole seconds ≥ 1")
        self.upstream = f"http://{parts.netloc}{parts.path}"
        self.platform: Platform = platform
        self.rates = check_rates(rates, platform)
        self.wait_seconds = wait_seconds
        self.hold_seconds = hold_seconds
        self.upstream_timeout = upstream_timeout
        self._host = parts.hostname
        self._port = parts.port or 80
        self._netloc = parts.netloc
        self._prefix = parts.path
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._forced: deque[str | None] = deque()
        self._deck: list[str | None] = []
        self._connections: set[socket.socket] = set()
        self._serials = itertools.count(1)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- life --------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns at once
            name=f"fault-proxy-{self.platform}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_now = list(self._connections)
        for connection in open_now:  # idle keep-alive connections end their threads too
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control and reading -------------------------------------------------------------

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """New rates from the next request on (with a fresh deck)."""
        checked = check_rates(rates, self.platform)
        with self._lock:
            self.rates = checked
            self._deck = []

    def force(self, *faults: str | None) -> None:
        """The next requests get these faults, in order (None: passed on), before any
        draw; for tests that need one fault at one step. Forced faults strike before
        forwarding (a cut body excepted), and the wiki's forced rate limit is its 429."""
        for fault in faults:
            if fault is not None:
                check_rates({fault: 1.0}, self.platform)
        with self._lock:
            self._forced.extend(faults)

    @contextmanager
    def calm(self) -> Iterator[None]:
        """No faults inside the block; the rates (and a fresh deck) come back after it."""
        saved = self.rates
        self.set_rates({})
        try:
            yield
        finally:
            self.set_rates(saved)

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def fault_counts(self) -> Counter[str]:
        return Counter(r.fault for r in self.records if r.fault is not None)

    def failure_share(self) -> float:
        records = self.records
        return sum(r.fault is not None for r in records) / len(records) if records else 0.0

    def wait_checks(self) -> list[WaitCheck]:
        """Each answer that asked for a wait, with the quiet time of its connection after."""
        records = self.records
        checks: list[WaitCheck] = []
        for index, asked in enumerate(records):
            if asked.wait is None:
                continue
            following = (r for r in records[index + 1 :] if r.connection == asked.connection)
            later = next(following, None)
            gap = later.at - asked.answered_at if later else None
            checks.append(WaitCheck(asked, asked.wait, gap))
        return checks

    # -- used by the handler -------------------------------------------------------------

    def _draw(self, path: str) -> tuple[str | None, bool]:
        """The fault for one request (or None), and a coin: strike after forwarding?"""
        with self._lock:
            coin = self._rng.random() < 0.5
            if self._forced:
                return self._forced.popleft(), False
            if not self._deck:
                self._deck = self._shuffled_deck()
            fault = self._deck.pop()
        if fault == "maxlag" and "api.php" not in path:
            return None, coin  # MediaWiki checks lag on api.php only
        return fault, coin

    def _shuffled_deck(self) -> list[str | None]:
        deck: list[str | None] = [
            fault for fault, rate in self.rates.items() for _ in range(round(rate * DECK))
        ]
        deck += [None] * (DECK - len(deck))
        self._rng.shuffle(deck)
        return deck

    def _record(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)

    def _opened(self, connection: socket.socket) -> int:
        with self._lock:
            self._connections.add(connection)
            return next(self._serials)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _forward(
        self, method: str, path: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(self._host, self._port, timeout=self.upstream_timeout)
        try:
            upstream.putrequest(
                method, self._prefix + path, skip_host=True, skip_accept_encoding=True
            )
            upstream.putheader("Host", self._netloc)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "host":
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.putheader("Connection", "close")
            upstream.endheaders(body)
            answer = upstream.getresponse()
            data = answer.read()
            kept = [
                (name, self._relocated(value) if name.lower() == "location" else value)
                for name, value in answer.getheaders()
                if name.lower() not in HOP_BY_HOP
            ]
            return answer.status, answer.reason, kept, data
        finally:
            upstream.close()

    def _relocated(self, location: str) -> str:
        """A redirect to the upstream points at the proxy, as a reverse proxy rewrites it."""
        if location == self.upstream or location.startswith(self.upstream + "/"):
            return self.url + location[len(self.upstream) :]
        return location

    def _refusal(self, fault: str, coin: bool) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        """Status, headers, body and whether it asks for a wait, for answered faults."""
        wait = str(self.wait_seconds)
        if fault == "unavailable":
            page = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
            return 503, [("Content-Type", HTML_TYPE)], page, False
        if fault == "maxlag":
            info = f"Waiting for 127.0.0.1: {DATABASE_LAG} seconds lagged"
            error = {"code": "maxlag", "info": info, "host": "127.0.0.1", "lag": DATABASE_LAG}
            headers = [
                ("Content-Type", JSON_TYPE),
                ("Retry-After", wait),
                ("X-Database-Lag", str(DATABASE_LAG)),
                ("MediaWiki-API-Error", "maxlag"),
            ]
            return 200, headers, _json({"error": error}), True
        # rate_limit
        if self.platform == "forum":
            text = (
                "You\u2019ve performed this action too many times. "
                f"Please wait {wait} seconds before trying again."
            )
            body = {
                "errors": [text],
                "error_type": "rate_limit",
                "extras": {"wait_seconds": self.wait_seconds, "time_left": "a few seconds"},
            }
            headers = [
                ("Content-Type", JSON_TYPE),
                ("Retry-After", wait),
                ("Discourse-Rate-Limit-Error-Code", "admin_api_key_rate_limit"),
            ]
            return 429, headers, _json(body), True
        if coin:  # the wiki's own limiter: an API error, no wait named
            info = (
                "As an anti-abuse measure, you are limited from performing this action too "
                "many times in a short space of time, and you have exceeded this limit. "
                "Please try again in a few minutes."
            )
            headers = [("Content-Type", JSON_TYPE), ("MediaWiki-API-Error", "ratelimited")]
            return 200, headers, _json({"error": {"code": "ratelimited", "info": info}}), False
        page = b"<html><body><h1>429 Too Many Requests</h1></body></html>"
        return 429, [("Content-Type", HTML_TYPE), ("Retry-After", wait)], page, True


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one client's requests share a connection
    disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.serial = self.server.proxy._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        proxy = self.server.proxy
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.send_error(411, "the fault proxy needs a Content-Length, not chunked bodies")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        read_at = time.monotonic()
        fault, after = proxy._draw(self.path)
        forwarded = fault in (None, "cut_body") or (fault in ("timeout", "reset") and after)
        answer: tuple[int, str, list[tuple[str, str]], bytes] | None = None
        if forwarded:
            try:
                answer = proxy._forward(self.command, self.path, self.headers.items(), body)
            except OSError as exc:
                page = f"upstream {proxy.upstream} failed: {type(exc).__name__}".encode()
                answer = (502, "Bad Gateway", [("Content-Type", "text/plain")], page)
                fault, forwarded = None, False
        status: int | None = None
        wait: float | None = None
        api_error: str | None = None
        if fault in ("rate_limit", "unavailable", "maxlag"):
            status, headers, page, asks = proxy._refusal(fault, after)
            wait = float(proxy.wait_seconds) if asks else None
            answer = (status, http.client.responses.get(status, ""), headers, page)
        elif answer is not None and fault in (None, "cut_body"):
            status = answer[0]
            api_error = next((v for k, v in answer[2] if k.lower() == "mediawiki-api-error"), None)
        proxy._record(
            Record(
                at=read_at,
                answered_at=time.monotonic(),
                connection=self.serial,
                method=self.command,
                path=self.path,
                fault=fault,
                forwarded=forwarded,
                status=status,
                wait=wait,
                api_error=api_error,
            )
        )
        if fault == "timeout":
            self._hold()
        elif fault == "reset":
            self._reset()
        else:
            assert answer is not None
            self._answer(*answer, cut=fault == "cut_body")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _answer(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, *, cut: bool
    ) -> None:
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        # A cut answer still promises the whole body (at least a byte, so it is cut).
        self.send_header("Content-Length", str(max(len(body), 1) if cut else len(body)))
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2] if cut else body)
        self.wfile.flush()

    def _hold(self) -> None:
        """Say nothing until the client hangs up, ``hold_seconds`` pass or the proxy stops."""
        proxy = self.server.proxy
        deadline = time.monotonic() + proxy.hold_seconds
        while not proxy._stopping.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([self.connection], [], [], 0.05)
            if not ready:
                continue
            try:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    break  # the client timed out and closed its end
            except OSError:
                break
            time.sleep(0.05)  # bytes we will not answer: keep holding
        self.close_connection = True

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True
