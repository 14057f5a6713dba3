"""Fan an event out to the outgoing subscriptions that want it.

The body is compact JSON in the Standard Webhooks shape
``{"type", "timestamp", "data"}`` and is stored exactly as it will be signed.
``msg_id`` is derived from (subscription, event_id), so fanning the same event
out twice (a worker retried after a crash) yields one message, not two.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy.orm import Session

from core import clock
from core.config import Settings
from core.events import Event
from core.store import dialect_insert
from webhooks.outgoing import subscriptions
from webhooks.outgoing.models import OutgoingMessage


def message_id(subscription_id: int, event_id: str) -> str:
    digest = hashlib.sha256(f"{subscription_id}\n{event_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"  # no "." (the spec forbids it in signed ids)


def body_for(event: Event) -> str:
    document = {
        "type": event.kind,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event_id": event.event_id,
            "subject": event.subject,
            "actor": event.actor,
            "occurred_at": event.occurred_at.isoformat(),
            "payload": dict(event.payload),
        },
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def fan_out(session: Session, event: Event, settings: Settings, now: datetime | None = None) -> int:
    """Queue one message per matching subscription, in the caller's transaction.

    The messages are due at ``now`` (the real clock unless given). Returns how many
    messages were newly queued (0 for an event already fanned out).
    """
    subscriptions.sync_config(session, settings)
    wanted = subscriptions.matching(session, event.kind)
    if not wanted:
        return 0
    body = body_for(event)
    rows = [
        {
            "msg_id": message_id(sub.id, event.event_id),
            "subscription_id": sub.id,
            "event_id": event.event_id,
            "event_kind": event.kind,
            "body": body,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now or clock.now(),
        }
        for sub in wanted
    ]
    statement = (
        dialect_insert(session, OutgoingMessage)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["msg_id"])
        .returning(OutgoingMessage.id)
    )
    return len(session.execute(statement).all())
