"""Tables of outgoing webhooks (subscriptions, messages, attempts).

A message is one event for one subscription; its ``body`` is stored exactly as
it is signed and sent, and its ``msg_id`` (the ``webhook-id`` header) never
changes, so receivers can deduplicate retries and replays. ``failed`` is the
dead-letter state; every try is kept as a ``DeliveryAttempt``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime

MESSAGE_STATES = ("pending", "in_flight", "delivered", "failed", "cancelled")


class WebhookSubscription(Base):
    """Where to send which events. ``source`` is "config" (synced at start) or "store"."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (UniqueConstraint("source", "url", name="uq_webhook_subscriptions_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[Any]] = mapped_column(Payload)  # patterns: "forum.*", "*", exact kinds
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="store")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class OutgoingMessage(Base):
    __tablename__ = "outgoing_messages"
    __table_args__ = (
        Index("ix_outgoing_messages_state_next", "state", "next_attempt_at"),
        Index("ix_outgoing_messages_state_id", "state", "id"),  # the dashboard's lists
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(128))
    event_kind: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # exactly the signed text, sent as UTF-8
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outgoing_messages.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column(Integer)  # None: no HTTP response at all
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_snippet: Mapped[str | None] = mapped_column(Text)  # capped, see delivery.py
