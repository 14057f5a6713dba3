"""``POST /webhooks/discourse``: check, record, acknowledge. Processing happens later.

Order matters: the raw body is read (size-capped) and its HMAC checked before anything is
parsed; then the instance, the event name and the few fields the inbox row is made of
(discourse_checks.py: the full schema check is the worker's); then the row is handed to
the process's group committer (core/group_commit.py) and answered only once the
transaction holding it has committed, and the worker is woken. A commit that failed is
answered 503, so Discourse delivers the event again. The answer never waits for
processing.

The receiver is a plain WSGI app served in front of Flask (``WebhooksFirst``): a forum
draining its backlog after an outage delivers as fast as we answer, and a Flask request
(its context, routing, response object and hooks) would cost more than the checks and
the insert together. It reads no cookie and needs no CSRF token: senders sign requests.

Every refusal is recorded (why, and a hash of the body) for the dashboard's webhook log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from core import clock as clocks
from core import inbox_rows
from core.clock import Clock
from core.config import Settings
from core.database import Database
from core.group_commit import CommitFailed
from webhooks.incoming import counters, refusals
from webhooks.incoming.discourse_checks import quick_problem
from webhooks.incoming.discourse_events import READ, is_real_unread, normalise

log = logging.getLogger("constellate.webhooks.discourse")
unsupported_log = logging.getLogger("constellate.webhooks.unsupported")

PATH = "/webhooks/discourse"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Answer = tuple[int, bytes]


def _json(value: Any) -> bytes:
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


# The answer to every recorded delivery, made once.
ACCEPTED = _json({"accepted": True, "duplicate": False})
DUPLICATE = _json({"accepted": True, "duplicate": True})
_STATUS = {
    code: f"{code} {HTTPStatus(code).phrase}" for code in (200, 202, 400, 401, 403, 405, 413, 503)
}


def signature_ok(secret: str, raw: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest refuses non-ASCII text, which a sender controls.
    given = header.removeprefix("sha256=").encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


class DiscourseReceiver:
    """WSGI: ``POST /webhooks/discourse`` and nothing else. ``headers`` are added to every
    answer (the service's security headers); ``on_recorded`` runs after each new event
    is committed (it wakes the workers)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        clock: Clock,
        *,
        headers: Sequence[tuple[str, str]],
        max_bytes: int,
        on_recorded: Callable[[], None],
    ) -> None:
        forum = settings["forum"]
        self.secret: str = forum["webhook_secret"]
        self.instance: str = forum["url"].rstrip("/")
        self.database = database
        self.clock = clock
        self.headers = list(headers)
        self.max_bytes = max_bytes
        self.on_recorded = on_recorded

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            status, body = self._refuse(environ, 405, "only POST is answered here", b"")
            extra = [("Allow", "POST")]
        else:
            status, body = self.answer(environ)
            extra = []
        start_response(
            _STATUS[status],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *extra,
                *self.headers,
            ],
        )
        return [body]

    def answer(self, environ: dict[str, Any]) -> Answer:
        raw = _body(environ, self.max_bytes)
        if raw is None:
            return self._refuse(environ, 413, "request body too large", b"")
        if not self.secret:
            return self._refuse(
                environ, 401, "no forum webhook secret is configured; deliveries are refused", raw
            )
        if not signature_ok(self.secret, raw, environ.get("HTTP_X_DISCOURSE_EVENT_SIGNATURE")):
            return self._refuse(environ, 401, "missing or wrong X-Discourse-Event-Signature", raw)
        instance = environ.get("HTTP_X_DISCOURSE_INSTANCE", "").rstrip("/")
        if not self.instance or instance != self.instance:
            return self._refuse(
                environ, 403, "X-Discourse-Instance is not the configured forum", raw
            )
        event_name = environ.get("HTTP_X_DISCOURSE_EVENT", "")
        if event_name == "ping":
            return 200, _json({"ok": True, "ping": True})
        if event_name not in READ:
            if is_real_unread(event_name):
                counters.count_unsupported(event_name)
                unsupported_log.info("unsupported Discourse event %r ignored", event_name)
                return 200, _json({"accepted": False, "unsupported": event_name})
            return self._refuse(environ, 400, f"unknown X-Discourse-Event {event_name!r}", raw)
        body_type = READ[event_name]
        sent_type = environ.get("HTTP_X_DISCOURSE_EVENT_TYPE")
        if sent_type != body_type:
            message = f"X-Discourse-Event-Type {sent_type!r} does not match {event_name}"
            return self._refuse(environ, 400, message, raw)
        try:
            # Its text is stored as the payload, so it must be the text that was read:
            # JSON between systems is UTF-8 (RFC 8259), and json.loads would guess others.
            text = raw.decode()
            body: Any = json.loads(text)
        except ValueError as exc:  # UnicodeDecodeError too
            return self._refuse(environ, 400, f"body is not UTF-8 JSON: {exc}", raw)
        problem = quick_problem(event_name, body)
        if problem is not None:
            return self._refuse(environ, 400, problem, raw)
        delivery_id = environ.get("HTTP_X_DISCOURSE_EVENT_ID") or None
        received = self.clock()
        try:
            event = normalise(event_name, body, raw, delivery_id=delivery_id, received=received)
        except ValueError as exc:  # the schema cannot say everything: an id too long, say
            return self._refuse(environ, 400, f"the event cannot be stored: {exc}", raw)
        # JSON can only spell NUL as \u0000: a body without that text holds none, and the
        # walk through every string of the body is spared.
        problem = inbox_rows.unstorable(event, payload_may_hold_nul=b"\\u0000" in raw)
        if problem is not None:
            return self._refuse(environ, 400, f"the event cannot be stored: {problem}", raw)
        # A redelivery (same X-Discourse-Event-Id, same bytes) and an automatic retry (new
        # id, same bytes) both hit the content key; a webhook and a poll of one change
        # share event_id. The delivery id alone is not trusted: it restarts if the forum's
        # database is restored, and would then drop new events.
        # The full schema check is the worker's: the row says it is still to be done. The
        # payload is the body: its text is stored as it came (same JSON, not written again).
        row = inbox_rows.row(
            event,
            self.database.backend,
            received_at=received,
            available_at=received,
            body_checked=False,
            payload_json=text,
        )
        try:
            stored = self.database.committer.record(row)
        except CommitFailed as exc:
            log.error("event %s not recorded: %s", event.event_id, exc)
            return 503, _json({"error": "the event could not be recorded; deliver it again"})
        ids = {"event_id": event.event_id, "delivery_id": delivery_id}  # fields of JSON log lines
        if not stored:
            log.info(
                "duplicate delivery of %s (delivery %s)", event.event_id, delivery_id, extra=ids
            )
            return 200, DUPLICATE
        log.debug("recorded %s (delivery %s)", *ids.values(), extra=ids)
        self.on_recorded()
        return 202, ACCEPTED

    def _refuse(self, environ: dict[str, Any], status: int, message: str, raw: bytes) -> Answer:
        with clocks.using(self.clock):  # the refusal's row is stamped by our clock
            refusals.record(
                self.database,
                source="forum",
                status=status,
                reason=message,
                event_name=environ.get("HTTP_X_DISCOURSE_EVENT"),
                delivery_id=environ.get("HTTP_X_DISCOURSE_EVENT_ID"),
                body=raw,
            )
        return status, _json({"error": message})


def _body(environ: dict[str, Any], max_bytes: int) -> bytes | None:
    """The request's body, or None when it is longer than ``max_bytes`` (not read then)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            size = int(length)
        except ValueError:
            return b""
        return None if size > max_bytes else stream.read(size)
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        data: bytes = stream.read(max_bytes + 1)
        return None if len(data) > max_bytes else data
    return b""


class WebhooksFirst:
    """WSGI: Discourse's deliveries to the receiver, every other request to the app
    ``build_rest`` makes at the first of them (once)."""

    def __init__(self, receiver: WSGIApp, build_rest: Callable[[], WSGIApp]) -> None:
        self.receiver = receiver
        self._build_rest = build_rest
        self._rest: WSGIApp | None = None
        self._lock = threading.Lock()

    def rest(self) -> WSGIApp:
        if self._rest is None:
            with self._lock:
                if self._rest is None:
                    self._rest = self._build_rest()
        return self._rest

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH:
            return self.receiver(environ, start_response)
        return self.rest()(environ, start_response)
