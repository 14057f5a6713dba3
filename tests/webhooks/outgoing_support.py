"""Shared pieces for the outgoing-webhook tests: a store, settings, an event, a receiver.

The receiver is an independent stdlib HTTP server; it checks signatures with
its own HMAC from the Standard Webhooks spec, not with our signing module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.events import Event

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def settings(*, allow_private: bool = True, subscriptions: Any = ()) -> dict[str, dict[str, Any]]:
    return {
        "worker": {"lease_seconds": 120},
        "outgoing": {
            "timeout": 5,
            "allow_private_networks": allow_private,
            "subscriptions": list(subscriptions),
        },
    }


def event(number: int = 1, kind: str = "forum.post_created") -> Event:
    return Event(
        event_id=f"forum:post_created:{number}",
        kind=kind,
        source="forum",
        subject=f"post:{number}",
        actor="alice",
        occurred_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        delivery_id=str(number),
        payload={"post": {"id": number, "raw": "héllo ✓"}},
    )


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """v1 signature computed straight from the spec: base64(HMAC-SHA256(key, id.ts.body))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, headers); 200 when the script ends."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(self.path, headers, body))
                status, extra = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
