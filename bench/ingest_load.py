"""The ingest benchmark's load generator, run in its own process so its CPU is its own.

It reads a plan (JSON) on standard input, prepares every request of the phase (signed
Discourse ``post_created`` webhooks, one post id each) before the clock starts, sends them
over raw HTTP/1.1 connections from one thread per sender, and prints the
phase's figures (JSON) on standard output. The secret comes in the plan, never in argv.

Each sender opens a connection per request, as Discourse does: its webhook emitter
(``WebHookEmitter#emit!``) makes a new Faraday connection for every delivery, from each
Sidekiq thread. With ``keep_alive`` a sender keeps its connection instead.

Modes:
- ``closed``: each connection sends its next request as soon as the last one is answered,
  for ``seconds`` (or until the prepared requests run out): the throughput.
- ``open``: ``rate`` requests per second for ``seconds``, each due at a fixed time whether
  or not earlier ones were answered; latency runs from the due time, so a slow answer
  that delays the next send is counted against the server (no coordinated omission).

python -m bench.ingest_load < plan.json
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FIXTURE = (
    Path(__file__).parent.parent / "tests" / "fixtures" / "discourse" / "post__post_created.json"
)
EVENT = "post_created"
TIMEOUT_SECONDS = 30.0  # one answer; a request still unanswered then is a failure
MAX_HEADER_BYTES = 64 * 1024
IDLE_CHECK_SECONDS = 0.5  # a connection idle this long is checked before it is used again


@dataclass(frozen=True)
class Plan:
    port: int
    mode: str  # "closed" or "open"
    seconds: float
    connections: int
    first_id: int  # post ids first_id .. first_id + count - 1
    count: int  # requests prepared (open: rate * seconds)
    secret: str
    forum_url: str
    rate: float = 0.0
    keep_alive: bool = False  # one connection per sender, not one per request

    @classmethod
    def from_json(cls, text: str) -> Plan:
        plan = cls(**json.loads(text))
        if plan.mode not in ("closed", "open"):
            raise ValueError(f"mode: expected closed or open, got {plan.mode!r}")
        if plan.connections < 1 or plan.count < 1 or plan.seconds <= 0:
            raise ValueError("connections, count and seconds must be positive")
        if plan.mode == "open" and plan.rate <= 0:
            raise ValueError("rate: must be positive in open mode")
        return plan


@dataclass
class Figures:
    """What one phase measured; milliseconds for latencies, seconds otherwise."""

    sent: int = 0
    answered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # status code -> answers
    errors: dict[str, int] = field(default_factory=dict)  # exception name -> requests
    seconds: float = 0.0  # from the first send to the last answer
    cpu_seconds: float = 0.0  # this process's CPU over the same time
    exhausted: bool = False  # closed mode ran out of prepared requests before the time
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    send_lag_p99_ms: float = 0.0  # open mode: how late sends left against their due time


# -- the requests ----------------------------------------------------------------------------


def fixture_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text("utf-8"))["body"]
    return body


def signed_requests(plan: Plan, host: str = "127.0.0.1") -> list[bytes]:
    """Each request whole on the wire: a post of its own (new id, number, body), compact
    JSON as Discourse sends it, and the HMAC-SHA256 of exactly those bytes."""
    template = fixture_body()
    key = plan.secret.encode()
    made = []
    for post_id in range(plan.first_id, plan.first_id + plan.count):
        text = f"Reply {post_id}: {template['post']['raw']}"
        post = template["post"] | {
            "id": post_id,
            "post_number": post_id + 1,
            "raw": text,
            "cooked": f"<p>{text}</p>",
        }
        body = template | {"post": post}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        signature = hmac.new(key, raw, hashlib.sha256).hexdigest()
        head = (
            f"POST /webhooks/discourse HTTP/1.1\r\n"
            f"Host: {host}:{plan.port}\r\n"
            f"User-Agent: Discourse/3.5.0\r\n"
            f"Accept: */*\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n"
            f"X-Discourse-Instance: {plan.forum_url}\r\n"
            f"X-Discourse-Event-Id: {post_id}\r\n"
            f"X-Discourse-Event-Type: post\r\n"
            f"X-Discourse-Event: {EVENT}\r\n"
            f"X-Discourse-Event-Signature: sha256={signature}\r\n\r\n"
        )
        made.append(head.encode() + raw)
    return made


# -- one connection --------------------------------------------------------------------------


class Connection:
    """A raw HTTP/1.1 connection, closed after each answer unless ``keep_alive``; it
    reconnects when the server closed it."""

    def __init__(self, port: int, *, keep_alive: bool) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.sock: socket.socket | None = None
        self.used = 0.0

    def open(self) -> None:
        # The server may have closed it while idle (gunicorn's keep-alive is 2 s): a readable
        # idle socket is at its end, and a request sent there would be lost.
        idle = time.monotonic() - self.used > IDLE_CHECK_SECONDS
        if self.sock is not None and idle and select.select([self.sock], [], [], 0)[0]:
            self.close()
        if self.sock is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_SECONDS)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, request: bytes) -> int:
        """Send one request, read its whole answer, return its status code."""
        self.open()
        assert self.sock is not None
        try:
            self.sock.sendall(request)
            status, keep = self._read_answer(self.sock)
        except BaseException:
            self.close()
            raise
        if not (keep and self.keep_alive):
            self.close()
        self.used = time.monotonic()
        return status

    @staticmethod
    def _read_answer(sock: socket.socket) -> tuple[int, bool]:
        buffer = b""
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server before an answer")
            buffer += chunk
            if len(buffer) > MAX_HEADER_BYTES:
                raise ConnectionError("answer headers too long")
        lines = buffer[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise ConnectionError("chunked answers are not expected from these routes")
        length = int(headers.get("content-length", "0"))
        body = len(buffer) - end - 4
        while body < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server inside an answer")
            body += len(chunk)
        keep = lines[0].startswith("HTTP/1.1") and headers.get("connection") != "close"
        return status, keep


# -- the phases ------------------------------------------------------------------------------


class Tally:
    """What the sender threads found, merged under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.last_answer = 0.0

    def add(
        self,
        statuses: Counter[str],
        errors: Counter[str],
        latencies: list[float],
        lags: list[float],
        last: float,
    ) -> None:
        with self.lock:
            self.statuses.update(statuses)
            self.errors.update(errors)
            self.latencies.extend(latencies)
            self.lags.extend(lags)
            self.last_answer = max(self.last_answer, last)


def run(plan: Plan) -> Figures:
    requests = signed_requests(plan)
    connections = [
        Connection(plan.port, keep_alive=plan.keep_alive) for _ in range(plan.connections)
    ]
    for connection in connections:  # the first connections made before the clock starts
        connection.open()
    tally = Tally()
    order = itertools.count()  # next() on it is atomic under the GIL
    ran_out = threading.Event()
    start_line = threading.Barrier(plan.connections + 1)
    clock: dict[str, float] = {}

    def send(connection: Connection) -> None:
        statuses: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        latencies: list[float] = []
        lags: list[float] = []
        last = 0.0
        start_line.wait()
        start, deadline = clock["start"], clock["start"] + plan.seconds
        while True:
            if plan.mode == "closed" and time.perf_counter() >= deadline:
                break
            index = next(order)
            if index >= len(requests):
                ran_out.set()
                break
            if plan.mode == "open":
                due = start + index / plan.rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                lags.append(time.perf_counter() - due)
            else:
                due = time.perf_counter()
            try:
                statuses[str(connection.exchange(requests[index]))] += 1
            except (OSError, ValueError, IndexError) as exc:
                errors[type(exc).__name__] += 1
            last = time.perf_counter()
            latencies.append(last - due)
        connection.close()
        tally.add(statuses, errors, latencies, lags, last)

    threads = [threading.Thread(target=send, args=(c,), daemon=True) for c in connections]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    clock["start"] = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu_before
    answered = sum(tally.statuses.values())
    latencies = sorted(tally.latencies)
    return Figures(
        sent=answered + sum(tally.errors.values()),
        answered=answered,
        statuses=dict(tally.statuses),
        errors=dict(tally.errors),
        seconds=max(tally.last_answer - clock["start"], 1e-9),
        cpu_seconds=cpu,
        exhausted=plan.mode == "closed" and ran_out.is_set(),
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] if latencies else 0.0) * 1000,
        send_lag_p99_ms=percentile(sorted(tally.lags), 99) * 1000,
    )


def percentile(ordered: Sequence[float], percent: int) -> float:
    """Nearest rank over sorted values; 0 when there are none."""
    if not ordered:
        return 0.0
    rank = -(-percent * len(ordered) // 100)  # ceil
    return ordered[max(rank, 1) - 1]


def main() -> None:
    try:
        plan = Plan.from_json(sys.stdin.read())
    except (ValueError, TypeError) as exc:
        sys.exit(f"bench.ingest_load: bad plan on standard input: {exc}")
    print(json.dumps(asdict(run(plan))))


if __name__ == "__main__":
    main()
