"""Deliver queued outgoing messages that are due.

Retry schedule (Svix's, about 27.6 hours in all): the first attempt is made at
once; after a failed attempt the next waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
and 10 h, each with ±20 % random jitter. After the 8th failed attempt the
message is ``failed`` (the dead letter) until someone replays it.

Rules (Standard Webhooks): only 2xx is success; 3xx is a failure and is not
followed; 410 Gone disables the subscription and cancels its queued messages;
429 and 503 wait what ``Retry-After`` asks (capped at an hour) instead of the
schedule. A destination refused by the SSRF guard is a failed attempt with a
generic message. Workers claim messages with a lease (a compare-and-set
UPDATE), so no two workers send the same message at once, and a worker that
died mid-send leaves a lease that expires and lets another take over.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import requests
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from core import clock
from core.config import Settings
from core.store import Store
from webhooks.outgoing import signing, ssrf, transport
from webhooks.outgoing.models import DeliveryAttempt, OutgoingMessage, WebhookSubscription

log = logging.getLogger(__name__)

RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds after attempts 1..7
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2
RETRY_AFTER_CAP = 3600
BATCH = 50

Sender = Callable[[ssrf.Destination, bytes, Mapping[str, str], float], transport.Reply]


@dataclass
class Courier:
    """Everything delivery depends on that tests replace: HTTP, DNS and randomness."""

    send: Sender = transport.post
    resolver: ssrf.Resolver = ssrf.system_resolver
    rng: random.Random = field(default_factory=random.Random)
    monotonic: Callable[[], float] = time.monotonic


def deliver_due(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    courier: Courier | None = None,
    budget_seconds: float | None = None,
) -> int:
    """Attempt every message whose time has come; return how many were attempted.

    With ``budget_seconds`` no new send starts once that much time has passed, so a
    slow or silent receiver holds a worker cycle up for one timeout at most.
    """
    courier = courier or Courier()
    lease = timedelta(seconds=settings["worker"]["lease_seconds"])
    attempted = 0
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    for message_id in _candidates(store, now or clock.now()):
        if deadline is not None and time.monotonic() >= deadline:
            break  # the rest waits for the next cycle
        # Claim each message just before sending it, so its lease covers this send only.
        current = now or clock.now()
        if _claim(store, message_id, current, current + lease) and _attempt(
            store, settings, courier, message_id, current
        ):
            attempted += 1
    return attempted


def next_delay(attempts: int, rng: random.Random) -> float | None:
    """Seconds to wait after ``attempts`` failed attempts, or None when it is time to give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts - 1]
    return base * rng.uniform(1 - JITTER, 1 + JITTER)


def replay(session: Session, message_id: str | int, *, now: datetime | None = None) -> bool:
    """Queue a failed, delivered or cancelled message again under the same msg_id."""
    message = _find(session, message_id)
    if message is None or message.state not in ("failed", "delivered", "cancelled"):
        return False
    message.state, message.attempts = "pending", 0
    message.next_attempt_at = now or clock.now()
    message.lease_until = None
    message.last_error = None
    return True


def _find(session: Session, message_id: str | int) -> OutgoingMessage | None:
    key = str(message_id)
    if key.startswith("msg_"):
        return session.scalars(select(OutgoingMessage).where(OutgoingMessage.msg_id == key)).first()
    return session.get(OutgoingMessage, int(key)) if key.isdigit() else None


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutgoingMessage.state == "pending", OutgoingMessage.next_attempt_at <= now),
        and_(OutgoingMessage.state == "in_flight", OutgoingMessage.lease_until < now),
    )


def _candidates(store: Store, now: datetime) -> list[int]:
    with store.session() as session:
        return list(
            session.scalars(
                select(OutgoingMessage.id)
                .where(_due(now))
                .order_by(OutgoingMessage.next_attempt_at, OutgoingMessage.id)
                .limit(BATCH)
            )
        )


def _claim(store: Store, message_id: int, now: datetime, lease_until: datetime) -> bool:
    """Compare-and-set: only one worker's UPDATE can still find the message due."""
    with store.session() as session:
        result = session.execute(
            update(OutgoingMessage)
            .where(OutgoingMessage.id == message_id, _due(now))
            .values(state="in_flight", lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@dataclass
class _Outcome:
    status: int | None = None
    error: str | None = None
    snippet: str | None = None
    retry_after: float | None = None


def _message_and_subscription(
    session: Session, message_id: int
) -> tuple[OutgoingMessage | None, WebhookSubscription | None]:
    message = session.get(OutgoingMessage, message_id)
    if message is None:
        return None, None
    return message, session.get(WebhookSubscription, message.subscription_id)


def _attempt(
    store: Store, settings: Settings, courier: Courier, message_id: int, now: datetime
) -> bool:
    with store.session() as session:
        message, subscription = _message_and_subscription(session, message_id)
        if message is None or subscription is None:
            return False
        if not subscription.active:
            message.state, message.lease_until = "cancelled", None
            message.last_error = f"subscription disabled: {subscription.disabled_reason}"
            return False
        url, secret, msg_id, body = (
            subscription.url,
            subscription.secret,
            message.msg_id,
            message.body,
        )

    started = courier.monotonic()
    outcome = _send(settings, courier, url, secret, msg_id, body, now)
    duration_ms = int((courier.monotonic() - started) * 1000)

    with store.session() as session:
        message, subscription = _message_and_subscription(session, message_id)
        if message is None or subscription is None:
            return False
        session.add(
            DeliveryAttempt(
                message_id=message.id,
                attempted_at=now,
                status=outcome.status,
                duration_ms=duration_ms,
                error=outcome.error,
                response_snippet=outcome.snippet,
            )
        )
        _settle(session, courier, message, subscription, outcome, now)
    return True


def _send(
    settings: Settings,
    courier: Courier,
    url: str,
    secret: str,
    msg_id: str,
    body: str,
    now: datetime,
) -> _Outcome:
    outgoing = settings["outgoing"]
    try:
        destination = ssrf.check(
            url, allow_private=outgoing["allow_private_networks"], resolver=courier.resolver
        )
    except ssrf.BlockedDestination as exc:
        log.warning("outgoing webhook %s to %s refused: %s", msg_id, url, exc)
        return _Outcome(error=ssrf.GENERIC_REFUSAL)
    headers = signing.headers(secret, msg_id, int(now.timestamp()), body)
    try:
        reply = courier.send(destination, body.encode("utf-8"), headers, outgoing["timeout"])
    except requests.RequestException as exc:
        return _Outcome(error=f"no response: {type(exc).__name__}")
    outcome = _Outcome(status=reply.status, snippet=reply.snippet)
    if 300 <= reply.status < 400:
        location = reply.headers.get("Location", "")
        outcome.error = f"redirect not followed (Location: {location[:200]})"
    elif not 200 <= reply.status < 300:
        outcome.error = f"HTTP {reply.status}"
    if reply.status in (429, 503):
        outcome.retry_after = _retry_after(reply.headers.get("Retry-After"), now)
    return outcome


def _settle(
    session: Session,
    courier: Courier,
    message: OutgoingMessage,
    subscription: WebhookSubscription,
    outcome: _Outcome,
    now: datetime,
) -> None:
    message.attempts += 1
    message.lease_until = None
    message.last_status = outcome.status
    message.last_error = outcome.error
    if outcome.status is not None and 200 <= outcome.status < 300:
        message.state = "delivered"
        return
    if outcome.status == 410:
        message.state = "failed"
        _disable(session, subscription, f"receiver answered 410 Gone at {now.isoformat()}")
        return
    delay = next_delay(message.attempts, courier.rng)
    if delay is None:
        message.state = "failed"
        return
    if outcome.retry_after is not None:
        delay = outcome.retry_after
    message.state = "pending"
    message.next_attempt_at = now + timedelta(seconds=delay)


def _disable(session: Session, subscription: WebhookSubscription, reason: str) -> None:
    subscription.active, subscription.disabled_reason = False, reason
    session.execute(
        update(OutgoingMessage)
        .where(
            OutgoingMessage.subscription_id == subscription.id,
            OutgoingMessage.state == "pending",
        )
        .values(state="cancelled", last_error=f"subscription disabled: {reason}")
        .execution_options(synchronize_session=False)
    )


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds (delta or HTTP date), between 1 s and the cap."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 1.0), RETRY_AFTER_CAP)
