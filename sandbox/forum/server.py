"""Run the forum sandbox with werkzeug's threaded server in a background thread."""

from __future__ import annotations

import secrets
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FrameType, TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.forum import webhooks
from sandbox.forum.app import create_forum_app
from sandbox.forum.state import Forum


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: tests and the demo make many requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class ForumServer:
    """A running forum: ``.url``, ``.api_key``, ``.api_username``, ``.forum``."""

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        port: int | None = None,
        api_key: str | None = None,
        api_username: str = "system",
        rate_limit_per_minute: int = 60,
        host: str = "127.0.0.1",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.state_file = state_file
        self.host = host
        self.port = port or 0
        self.api_key = api_key or secrets.token_hex(32)
        self.api_username = api_username
        self.rate_limit_per_minute = rate_limit_per_minute
        self.clock = clock  # the forum's own clock; the system's unless a test sets one
        self.url = ""
        self.forum: Forum | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ForumServer:
        if self._server is not None:
            return self
        # Bind first: the forum's base URL needs the port the OS picked.
        placeholder = Forum("http://placeholder", _seed=False)
        server = make_server(
            self.host,
            self.port,
            create_forum_app(placeholder, api_key=self.api_key),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self.port = server.socket.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        if self.state_file is not None:
            self.forum = Forum.load(self.state_file, self.url, clock=self.clock)
        else:
            self.forum = Forum(self.url, clock=self.clock)
        server.app = create_forum_app(
            self.forum,
            api_key=self.api_key,
            api_username=self.api_username,
            rate_limit_per_minute=self.rate_limit_per_minute,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="forum-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.forum is not None:
            webhooks.stop(self.forum)
            self.forum.save()
        self._server = None
        self._thread = None

    def __enter__(self) -> ForumServer:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    *,
    port: int | None = None,
    state_file: Path | None = None,
    api_key: str | None = None,
    rate_limit_per_minute: int = 60,
) -> None:
    """Run a forum until SIGINT/SIGTERM, printing where it is and how to call it."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with ForumServer(
        port=port,
        state_file=state_file,
        api_key=api_key,
        rate_limit_per_minute=rate_limit_per_minute,
    ) as server:
        print(f"Forum sandbox at {server.url}", flush=True)
        print(f"API key: {server.api_key}", flush=True)
        print(f"API username: {server.api_username}", flush=True)
        stop.wait()
