"""Failures become our error types: lag, refused and hanging connections, HTTP 429/503.

Lag comes from the real wiki; the hanging socket and the HTTP status servers are
local stand-ins for failures a healthy sandbox wiki cannot produce.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import ClassVar

import mwclient.sleep
import pytest

from connectors.mediawiki import WikiClient
from core.errors import ConnectorError, PermissionDenied, RateLimited, Unavailable
from sandbox.wiki import free_port
from tests.conftest import SessionWiki


@pytest.fixture
def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """mwclient's retry waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(mwclient.sleep, "time", SimpleNamespace(sleep=waits.append))
    return waits


def test_lag_beyond_maxlag_is_waited_out_then_unavailable(
    wiki: SessionWiki, recorded_sleeps: list[float]
) -> None:
    # This wiki has no replicas and reports a lag of -1, so maxlag=-2 is always exceeded.
    client = wiki.bot(maxlag=-2, max_retries=3, retry_wait=5)
    client.ping()  # no maxlag on the readiness probe
    with pytest.raises(Unavailable) as caught:
        client.read_pages(["Main Page"])
    assert caught.value.code == "maxlag"
    assert caught.value.retry_after == 5.0  # the wiki's Retry-After
    # Each retry waited at least what the wiki asked, growing by retry_wait.
    assert recorded_sleeps == [5, 5, 10]
    # ping; login (site_init, token, login, userinfo); read and its 3 retries
    assert client.request_counts[200] == 1 + 4 + 1 + 3


def test_a_refused_connection_is_unavailable(recorded_sleeps: list[float]) -> None:
    client = WikiClient(config(f"http://127.0.0.1:{free_port()}", max_retries=2, retry_wait=1))
    with pytest.raises(Unavailable):
        client.ping()
    with pytest.raises(Unavailable) as caught:
        client.read_pages(["Main Page"])
    assert caught.value.platform == "wiki"
    assert recorded_sleeps == [0, 1]  # bounded retries, then the error
    assert not client.request_counts


def test_a_wiki_that_never_answers_is_unavailable_within_the_timeout(
    recorded_sleeps: list[float],
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never reads or answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = WikiClient(config(url, timeout=1, max_retries=1, retry_wait=0))
        started = time.monotonic()
        with pytest.raises(Unavailable):
            client.ping()  # readiness: one try only, whatever max_retries says
        assert 0.9 < time.monotonic() - started < 6  # bounded by the timeout, not hung
        started = time.monotonic()
        with pytest.raises(Unavailable):
            client.read_pages(["Main Page"])
        assert 1.9 < time.monotonic() - started < 10  # one try and one retry


def test_http_429_is_rate_limited_for_the_retry_after_it_gives() -> None:
    with status_server(429, {"Retry-After": "17"}) as url:
        client = WikiClient(config(url))
        with pytest.raises(RateLimited) as caught:
            client.read_pages(["Main Page"])
        assert caught.value.retry_after == 17.0
        assert caught.value.code == "http-429"
        assert client.request_counts == {429: 1}  # not retried
        with pytest.raises(RateLimited):
            client.ping()


def test_http_503_is_retried_then_unavailable_with_its_retry_after(
    recorded_sleeps: list[float],
) -> None:
    with status_server(503, {"Retry-After": "30"}) as url:
        client = WikiClient(config(url, max_retries=2, retry_wait=1))
        with pytest.raises(Unavailable) as caught:
            client.read_pages(["Main Page"])
        assert caught.value.retry_after == 30.0
        assert client.request_counts == {503: 3}
        assert recorded_sleeps == [0, 1]


def test_a_wrong_bot_password_is_permission_denied(wiki: SessionWiki) -> None:
    client = wiki.bot(password="not-the-password-" + "x" * 15)
    with pytest.raises(PermissionDenied) as caught:
        client.read_pages(["Main Page"])
    assert caught.value.code == "login-failed"


def config(url: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "url": url,
        "script_path": "/",
        "username": "ConstellateBot@constellate",
        "password": "p" * 32,
        "timeout": 5,
        "maxlag": 5,
        "max_retries": 0,
        "retry_wait": 0,
        "user_agent": "Constellate/0.1 (tests)",
    }
    return {**base, **overrides}


class StatusHandler(BaseHTTPRequestHandler):
    status = 500
    headers_to_send: ClassVar[dict[str, str]] = {}
    body: ClassVar[bytes] = b'{"error": {"code": "http", "info": "refused"}}'

    def do_GET(self) -> None:
        body = self.body
        self.send_response(self.status)
        for name, value in self.headers_to_send.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def status_server(
    status: int, headers: dict[str, str], body: bytes = StatusHandler.body
) -> Iterator[str]:
    """A tiny HTTP server answering every request with one status, headers and body."""
    handler = type(
        "Handler", (StatusHandler,), {"status": status, "headers_to_send": headers, "body": body}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_answer_without_the_expected_fields_is_a_connector_error() -> None:
    """A proxy's empty JSON, or a changed API: our error type, never a KeyError."""
    with status_server(200, {}, body=b"{}") as url, pytest.raises(ConnectorError) as caught:
        WikiClient(config(url)).ping()
    assert caught.value.code == "unexpected" and caught.value.platform == "wiki"
