"""The one envelope for everything that happens, whichever way it reached us.

A webhook and a poll that see the same change build the same ``event_id``, so
the inbox keeps one of them. ``dedupe_key`` is a second, content-derived key
for senders that resend the same change under a new delivery id (Discourse's
automatic retries do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SOURCES = frozenset({"forum", "wiki", "schedule", "health", "community"})


@dataclass(frozen=True)
class Event:
    event_id: str  # stable: e.g. "forum:post_created:123", "wiki:rc:456"
    kind: str  # normalised: "forum.post_created", "wiki.edit", ...
    source: str  # one of SOURCES
    subject: str  # what it is about: "post:123", "topic:45", "page:Flood Wardens Network"
    actor: str | None  # the username that caused it, if any
    occurred_at: datetime  # timezone-aware
    delivery_id: str | None  # the sender's id for this delivery (X-Discourse-Event-Id, rcid)
    payload: Mapping[str, Any] = field(default_factory=dict)  # the raw data, kept whole
    dedupe_key: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"event source must be one of {sorted(SOURCES)}, not {self.source!r}")
        if self.occurred_at.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        if not self.event_id or len(self.event_id) > 128:
            raise ValueError("event_id must be 1 to 128 characters")


def slot_event(
    kind: str, subject: str, every: str, now: datetime, seconds: float, payload: Mapping[str, Any]
) -> Event:
    """The scheduled event of the slot of ``seconds`` that ``now`` falls in: every worker
    that fires in the same slot makes the same id (``schedule:<subject>:<every>:<slot>``),
    so the inbox keeps one; it happened at the slot's start."""
    slot = int(now.timestamp() // seconds)
    return Event(
        event_id=f"schedule:{subject}:{every}:{slot}",
        kind=kind,
        source="schedule",
        subject=subject,
        actor=None,
        occurred_at=datetime.fromtimestamp(slot * seconds, UTC),
        delivery_id=None,
        payload=dict(payload),
    )
