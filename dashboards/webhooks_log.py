"""The Webhooks page: deliveries coming in (the inbox, and the requests refused at the
door) and going out (outgoing messages with their attempts), with Retry for a failed
inbox event and Replay for an outgoing message; and the same lists as JSON.

Every list is newest first, one page of PAGE_SIZE at a time; one row more than a page
is read to know whether a next page exists (no COUNT over a large table).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import flash, redirect, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, load_only
from werkzeug.wrappers import Response

from core import clock, inbox, wakeup
from core.models import InboxEvent
from core.store import get_store
from dashboards.web import (
    api,
    json_error,
    page_number,
    pages,
    paginate,
    render_page,
    safe_url,
)
from webhooks.incoming.refusal_model import IncomingRefusal
from webhooks.outgoing import delivery
from webhooks.outgoing.models import (
    MESSAGE_STATES,
    DeliveryAttempt,
    OutgoingMessage,
    WebhookSubscription,
)

INBOX_STATES = ("pending", "claimed", "done", "ignored", "dead")
SHOWS = ("incoming", "refused", "outgoing")
STATES = {"incoming": INBOX_STATES, "refused": (), "outgoing": MESSAGE_STATES}
REPLAYABLE = ("failed", "delivered", "cancelled")  # what delivery.replay accepts
ATTEMPTS_SHOWN = 10  # the newest attempts per message; older ones are counted
# The inbox columns a listing needs (not the payload, which may be large).
INBOX_COLUMNS = (
    InboxEvent.id,
    InboxEvent.event_id,
    InboxEvent.kind,
    InboxEvent.source,
    InboxEvent.subject,
    InboxEvent.actor,
    InboxEvent.state,
    InboxEvent.attempts,
    InboxEvent.last_error,
    InboxEvent.reason,
    InboxEvent.received_at,
    InboxEvent.occurred_at,
    InboxEvent.available_at,
    InboxEvent.processed_at,
)


def is_retryable(row: InboxEvent, now: datetime) -> bool:
    """Worth a Retry button: a dead event, or a failed one waiting out its backoff
    (``inbox.retry`` takes both; one already due needs no button)."""
    if row.state == "dead":
        return True
    return row.state == "pending" and row.last_error is not None and row.available_at > now


# -- queries ------------------------------------------------------------------------------


def incoming_page(
    session: Session, *, state: str | None, page: int
) -> tuple[list[InboxEvent], bool]:
    query = select(InboxEvent).options(load_only(*INBOX_COLUMNS)).order_by(InboxEvent.id.desc())
    if state is not None:
        query = query.where(InboxEvent.state == state)
    rows, more = paginate(session, query, page)
    return [row[0] for row in rows], more


def refused_page(session: Session, *, page: int) -> tuple[list[IncomingRefusal], bool]:
    query = select(IncomingRefusal).order_by(IncomingRefusal.id.desc())
    rows, more = paginate(session, query, page)
    return [row[0] for row in rows], more


@dataclass(frozen=True)
class OutgoingView:
    """An outgoing message as listed: where it goes and its newest attempts."""

    message: OutgoingMessage
    url: str  # the subscription's address without credentials; "" unless http(s)
    subscription_active: bool
    disabled_reason: str | None
    attempts: tuple[DeliveryAttempt, ...]  # newest first, at most ATTEMPTS_SHOWN
    earlier: int  # attempts older than those shown

    @property
    def replayable(self) -> bool:
        return self.message.state in REPLAYABLE


def outgoing_page(
    session: Session, *, state: str | None, page: int
) -> tuple[list[OutgoingView], bool]:
    query = (
        select(OutgoingMessage, WebhookSubscription)
        # Neither the body (large) nor the signing secret is shown: neither is read.
        .options(defer(OutgoingMessage.body), defer(WebhookSubscription.secret))
        .join(WebhookSubscription, WebhookSubscription.id == OutgoingMessage.subscription_id)
        .order_by(OutgoingMessage.id.desc())
    )
    if state is not None:
        query = query.where(OutgoingMessage.state == state)
    rows, more = paginate(session, query, page)
    attempts, totals = _newest_attempts(session, [message.id for message, _sub in rows])
    views = []
    for message, subscription in rows:
        shown = tuple(attempts.get(message.id, ()))
        views.append(
            OutgoingView(
                message=message,
                url=safe_url(without_credentials(subscription.url)),
                subscription_active=subscription.active,
                disabled_reason=subscription.disabled_reason,
                attempts=shown,
                earlier=totals.get(message.id, 0) - len(shown),
            )
        )
    return views, more


def _newest_attempts(
    session: Session, message_ids: Sequence[int]
) -> tuple[dict[int, list[DeliveryAttempt]], dict[int, int]]:
    """The newest ATTEMPTS_SHOWN attempts of each message, and each one's total: one
    query, bounded however often a message was replayed."""
    if not message_ids:
        return {}, {}
    ranked = (
        select(
            DeliveryAttempt.id,
            func.row_number()
            .over(partition_by=DeliveryAttempt.message_id, order_by=DeliveryAttempt.id.desc())
            .label("rank"),
            func.count().over(partition_by=DeliveryAttempt.message_id).label("total"),
        )
        .where(DeliveryAttempt.message_id.in_(message_ids))
        .subquery()
    )
    query = (
        select(DeliveryAttempt, ranked.c.total)
        .join(ranked, ranked.c.id == DeliveryAttempt.id)
        .where(ranked.c.rank <= ATTEMPTS_SHOWN)
        .order_by(DeliveryAttempt.message_id, DeliveryAttempt.id.desc())
    )
    attempts: dict[int, list[DeliveryAttempt]] = {}
    totals: dict[int, int] = {}
    for attempt, total in session.execute(query):
        attempts.setdefault(attempt.message_id, []).append(attempt)
        totals[attempt.message_id] = int(total)
    return attempts, totals


def without_credentials(url: str) -> str:
    """The address without a user name, password or query (where receivers put tokens)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # not an address at all (a bad port, a broken IPv6 literal)
        return ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# -- the page -----------------------------------------------------------------------------


def _show() -> str:
    show = request.values.get("show", "incoming")
    return show if show in SHOWS else "incoming"


def _state(show: str) -> str | None:
    state = request.values.get("state", "")
    return state if state in STATES[show] else None


@pages.get("/webhooks")
def webhooks() -> str:
    show = _show()
    state, page = _state(show), page_number()
    rows: Sequence[Any]
    with get_store().session() as session:
        if show == "incoming":
            rows, more = incoming_page(session, state=state, page=page)
        elif show == "refused":
            rows, more = refused_page(session, page=page)
        else:
            rows, more = outgoing_page(session, state=state, page=page)
    return render_page(
        "dashboard/webhooks.html",
        show=show,
        shows=SHOWS,
        states=STATES[show],
        state=state,
        page=page,
        more=more,
        rows=rows,
        is_retryable=functools.partial(is_retryable, now=clock.now()),
    )


def _back(show: str) -> Response:
    """303 to the list the button was on (its state filter and page come with the form)."""
    page = request.form.get("page", "")
    kept: dict[str, Any] = {"show": show}
    if (state := _state(show)) is not None:
        kept["state"] = state
    if page.isdigit() and 1 < int(page) < 1_000_000:
        kept["page"] = int(page)
    return redirect(url_for("dashboard.webhooks", **kept), code=303)


@pages.post("/webhooks/incoming/<id:row_id>/retry")
def retry_incoming(row_id: int) -> Response:
    try:
        with get_store().session() as session:
            # Locked (PostgreSQL), so a worker's claim cannot interleave with the reset.
            session.get(InboxEvent, row_id, with_for_update=True)
            kind = inbox.retry(session, row_id, now=clock.now()).kind
    except inbox.NoSuchEvent as exc:
        flash(f"Not retried: {exc}.", "error")
    else:
        wakeup.notify()
        flash(f"Inbox event {row_id} ({kind}) is pending again; a worker will take it.", "ok")
    return _back("incoming")


@pages.post("/webhooks/outgoing/<id:message_id>/replay")
def replay_outgoing(message_id: int) -> Response:
    with get_store().session() as session:
        replayed = delivery.replay(session, message_id, now=clock.now())
    if replayed:
        wakeup.notify()
        flash(
            f"Outgoing message {message_id} is pending again and will be sent under the same "
            "webhook-id; its earlier attempts are kept.",
            "ok",
        )
    else:
        flash(
            f"Outgoing message {message_id} was not replayed: only failed, delivered or "
            "cancelled messages can be.",
            "error",
        )
    return _back("outgoing")


# -- the API ------------------------------------------------------------------------------


def _api_state(show: str) -> tuple[str | None, tuple[Response, int] | None]:
    state = request.args.get("state")
    if state is None or state == "":
        return None, None
    if state not in STATES[show]:
        allowed = ", ".join(STATES[show])
        return None, json_error(400, f"unknown state {state!r}; one of: {allowed}")
    return state, None


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@api.get("/webhooks/incoming")
def api_incoming() -> Any:
    state, error = _api_state("incoming")
    if error is not None:
        return error
    page, now = page_number(), clock.now()
    with get_store().session() as session:
        rows, more = incoming_page(session, state=state, page=page)
    events = [
        {
            "id": row.id,
            "event_id": row.event_id,
            "kind": row.kind,
            "source": row.source,
            "subject": row.subject,
            "actor": row.actor,
            "state": row.state,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "reason": row.reason,
            "received_at": _time(row.received_at),
            "occurred_at": _time(row.occurred_at),
            "available_at": _time(row.available_at),
            "processed_at": _time(row.processed_at),
            "retryable": is_retryable(row, now),
        }
        for row in rows
    ]
    return {"page": page, "next_page": page + 1 if more else None, "events": events}


@api.get("/webhooks/refused")
def api_refused() -> Any:
    page = page_number()
    with get_store().session() as session:
        rows, more = refused_page(session, page=page)
    refusals = [
        {
            "id": row.id,
            "received_at": _time(row.received_at),
            "source": row.source,
            "status": row.status,
            "reason": row.reason,
            "event_name": row.event_name,
            "delivery_id": row.delivery_id,
            "body_sha256": row.body_sha256,
            "body_size": row.body_size,
        }
        for row in rows
    ]
    return {"page": page, "next_page": page + 1 if more else None, "refusals": refusals}


@api.get("/webhooks/outgoing")
def api_outgoing() -> Any:
    state, error = _api_state("outgoing")
    if error is not None:
        return error
    page = page_number()
    with get_store().session() as session:
        views, more = outgoing_page(session, state=state, page=page)
    return {
        "page": page,
        "next_page": page + 1 if more else None,
        "messages": [_message_json(view) for view in views],
    }


def _message_json(view: OutgoingView) -> dict[str, Any]:
    message = view.message
    return {
        "id": message.id,
        "msg_id": message.msg_id,
        "event_id": message.event_id,
        "event_kind": message.event_kind,
        "state": message.state,
        "attempts": message.attempts,
        "next_attempt_at": _time(message.next_attempt_at),
        "last_status": message.last_status,
        "last_error": message.last_error,
        "created_at": _time(message.created_at),
        "replayable": view.replayable,
        "subscription": {
            "id": message.subscription_id,
            "url": view.url,
            "active": view.subscription_active,
            "disabled_reason": view.disabled_reason,
        },
        "delivery_attempts": [
            {
                "attempted_at": _time(attempt.attempted_at),
                "status": attempt.status,
                "duration_ms": attempt.duration_ms,
                "error": attempt.error,
            }
            for attempt in view.attempts
        ],
        "earlier_attempts": view.earlier,
    }
