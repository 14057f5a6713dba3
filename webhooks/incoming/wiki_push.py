"""``POST /webhooks/wiki``: a wiki that pushes its changes (optional; the poll is enough).

The body is one recent-changes entry exactly as MediaWiki's API lists it, signed like
Discourse's deliveries: ``X-Constellate-Signature: sha256=<hex HMAC-SHA256(wiki.push_secret,
raw body)>``. It becomes the same Event (``wiki:rc:<rcid>``) the poll builds, so a change
seen both ways is recorded once. With no ``wiki.push_secret`` the endpoint does not exist
(404). Refusals are recorded for the dashboard; the route is exempt from CSRF checks.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

import schemas
from connectors.mediawiki.records import change_from
from core import inbox, inbox_rows, wakeup
from core.store import get_store
from webhooks.incoming import refusals
from webhooks.incoming.discourse import signature_ok
from webhooks.incoming.wiki_events import change_event

SIGNATURE_HEADER = "X-Constellate-Signature"

blueprint = Blueprint("incoming_wiki", __name__)


def _error(status: int, message: str, raw: bytes = b"") -> tuple[Response, int]:
    refusals.record(
        get_store().database,
        source="wiki",
        status=status,
        reason=message,
        event_name=None,
        delivery_id=None,
        body=raw,
    )
    return jsonify({"error": message}), status


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
    return _error(413, "request body too large")


@blueprint.post("/webhooks/wiki")
def receive() -> tuple[Response, int]:
    secret = current_app.config["CONSTELLATE"]["wiki"]["push_secret"]
    if not secret:
        return jsonify({"error": "wiki push is not configured"}), 404
    raw = request.get_data(cache=False)
    if not signature_ok(secret, raw, request.headers.get(SIGNATURE_HEADER)):
        return _error(401, f"missing or wrong {SIGNATURE_HEADER}", raw)
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:
        return _error(400, f"body is not JSON: {exc}", raw)
    problem = next(iter(schemas.validator("wiki/change").iter_errors(body)), None)
    if problem is not None:
        return _error(400, f"{problem.json_path}: {problem.message}", raw)
    try:
        event = change_event(change_from(body))
    except ValueError as exc:  # the schema cannot say everything: a date like 0000-00-00
        return _error(400, f"the change cannot be stored: {exc}", raw)
    problem = inbox_rows.unstorable(event)
    if problem is not None:
        return _error(400, f"the change cannot be stored: {problem}", raw)
    with get_store().session() as session:
        stored = inbox.record(session, event)
    if not stored:
        return jsonify({"accepted": True, "duplicate": True}), 200
    wakeup.notify()
    return jsonify({"accepted": True, "duplicate": False}), 202
