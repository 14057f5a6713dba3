"""``POST /webhooks/discourse``: check, record, acknowledge. Processing happens later.

Order matters: the raw body is read (size-capped by MAX_CONTENT_LENGTH) and its HMAC
checked before anything is parsed; then the instance, the event name and the few fields
the inbox row is made of (discourse_checks.py: the full schema check is the worker's);
then the Event is handed to the process's group committer (core/group_commit.py) and
answered only once the transaction holding it has committed, and the worker is woken.
A commit that failed is answered 503, so Discourse delivers the event again. The answer
never waits for processing.

Every refusal is recorded (why, and a hash of the body) for the dashboard's webhook log.
The route is exempt from CSRF checks: senders sign their requests instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from core import clock, inbox, wakeup
from core.group_commit import CommitFailed
from core.store import get_store
from webhooks.incoming import counters
from webhooks.incoming.discourse_checks import quick_problem
from webhooks.incoming.discourse_events import READ, is_real_unread, normalise
from webhooks.incoming.refusals import refuse

log = logging.getLogger("constellate.webhooks.discourse")
unsupported_log = logging.getLogger("constellate.webhooks.unsupported")

blueprint = Blueprint("incoming_discourse", __name__)

# The answer to every recorded delivery, made once (jsonify costs more than the rest).
ACCEPTED = json.dumps({"accepted": True, "duplicate": False}, separators=(",", ":")) + "\n"


def _error(status: int, message: str, raw: bytes = b"") -> tuple[Response, int]:
    return refuse(
        status,
        message,
        source="forum",
        body=raw,
        event_name=request.headers.get("X-Discourse-Event"),
        delivery_id=request.headers.get("X-Discourse-Event-Id"),
    )


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
    return _error(413, "request body too large")


def signature_ok(secret: str, raw: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
    # Bytes, not str: compare_digest refuses non-ASCII text, which a sender controls.
    given = header.removeprefix("sha256=").encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


@blueprint.post("/webhooks/discourse")
def receive() -> tuple[Response, int]:
    settings = current_app.config["CONSTELLATE"]
    forum = settings["forum"]
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not forum["webhook_secret"]:
        return _error(401, "no forum webhook secret is configured; deliveries are refused", raw)
    if not signature_ok(
        forum["webhook_secret"], raw, request.headers.get("X-Discourse-Event-Signature")
    ):
        return _error(401, "missing or wrong X-Discourse-Event-Signature", raw)
    instance = request.headers.get("X-Discourse-Instance", "").rstrip("/")
    if not forum["url"] or instance != forum["url"].rstrip("/"):
        return _error(403, "X-Discourse-Instance is not the configured forum", raw)
    event_name = request.headers.get("X-Discourse-Event", "")
    if event_name == "ping":
        return jsonify({"ok": True, "ping": True}), 200
    if event_name not in READ:
        if is_real_unread(event_name):
            counters.count_unsupported(event_name)
            unsupported_log.info("unsupported Discourse event %r ignored", event_name)
            return jsonify({"accepted": False, "unsupported": event_name}), 200
        return _error(400, f"unknown X-Discourse-Event {event_name!r}", raw)
    body_type = READ[event_name]
    sent_type = request.headers.get("X-Discourse-Event-Type")
    if sent_type != body_type:
        return _error(400, f"X-Discourse-Event-Type {sent_type!r} does not match {event_name}", raw)
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:
        return _error(400, f"body is not JSON: {exc}", raw)
    problem = quick_problem(event_name, body)
    if problem is not None:
        return _error(400, problem, raw)
    delivery_id = request.headers.get("X-Discourse-Event-Id") or None
    try:
        received = clock.now()
        event = normalise(event_name, body, raw, delivery_id=delivery_id, received=received)
    except ValueError as exc:  # the schema cannot say everything: an id too long, say
        return _error(400, f"the event cannot be stored: {exc}", raw)
    # JSON can only spell NUL as \u0000: a body without that text holds none, and the
    # walk through every string of the body is spared.
    problem = inbox.unstorable(event, payload_may_hold_nul=b"\\u0000" in raw)
    if problem is not None:
        return _error(400, f"the event cannot be stored: {problem}", raw)
    # A redelivery (same X-Discourse-Event-Id, same bytes) and an automatic retry (new id,
    # same bytes) both hit the content key; a webhook and a poll of one change share
    # event_id. The delivery id alone is not trusted: it restarts if the forum's
    # database is restored, and would then drop new events.
    # The full schema check is the worker's: the row says it is still to be done.
    row = inbox.row_values(event, received_at=received, available_at=received, body_checked=False)
    try:
        stored = get_store().committer.record(row)
    except CommitFailed as exc:
        log.error("event %s not recorded: %s", event.event_id, exc)
        response = jsonify({"error": "the event could not be recorded; deliver it again"})
        return response, 503
    ids = {"event_id": event.event_id, "delivery_id": delivery_id}  # fields of JSON log lines
    if not stored:
        log.info("duplicate delivery of %s (delivery %s)", event.event_id, delivery_id, extra=ids)
        return jsonify({"accepted": True, "duplicate": True}), 200
    log.info("recorded %s (delivery %s)", event.event_id, delivery_id, extra=ids)
    wakeup.notify()
    return Response(ACCEPTED, mimetype="application/json"), 202
