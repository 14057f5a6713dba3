"""An independent webhook receiver for the tests: a stdlib HTTP server that records requests.

It shares no code with the sandbox, so signatures and headers are checked from outside.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    header_items: list[tuple[str, str]]
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        """Header values by lower-cased name."""
        return {name.lower(): value for name, value in self.header_items}

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> int:
        return int(self.headers["x-discourse-event-id"])

    @property
    def event(self) -> str:
        return self.headers.get("x-discourse-event", "")

    def signature_valid(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-discourse-event-signature", ""))


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then ``default``)."""

    def __init__(self, *statuses: int, default: int = 200) -> None:
        self.statuses = list(statuses)
        self.default = default
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, list(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("X-Receiver", "test")
                self.end_headers()
                self.wfile.write(b"received")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[str]:
        """The X-Discourse-Event names received, in event-id order."""
        return [r.event for r in sorted(self.requests, key=lambda r: r.event_id)]
