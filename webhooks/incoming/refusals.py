"""Incoming deliveries we refused, and why, for the dashboard's webhook log.

Refused requests are unauthenticated, so nothing of their body is kept but its SHA-256
and size, and only the newest rows are: a flood of bad requests cannot fill the disk.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, UTCDateTime
from core.store import Store

KEEP = 10_000
REASON_LENGTH = 500


class IncomingRefusal(Base):
    __tablename__ = "incoming_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    event_name: Mapped[str | None] = mapped_column(String(100))
    delivery_id: Mapped[str | None] = mapped_column(String(100))
    body_sha256: Mapped[str] = mapped_column(String(64))
    body_size: Mapped[int] = mapped_column(Integer)


def record(
    store: Store,
    *,
    source: str,
    status: int,
    reason: str,
    event_name: str | None,
    delivery_id: str | None,
    body: bytes,
) -> None:
    """Record a refused delivery in its own transaction, keeping only the newest KEEP."""
    with store.session() as session:
        session.add(
            IncomingRefusal(
                source=source,
                status=status,
                reason=reason[:REASON_LENGTH],
                event_name=(event_name or None) and event_name[:100],
                delivery_id=(delivery_id or None) and delivery_id[:100],
                body_sha256=hashlib.sha256(body).hexdigest(),
                body_size=len(body),
            )
        )
        session.flush()
        oldest_kept = select(IncomingRefusal.id).order_by(IncomingRefusal.id.desc()).offset(KEEP)
        cutoff = session.scalars(oldest_kept.limit(1)).first()
        if cutoff is not None:
            session.execute(delete(IncomingRefusal).where(IncomingRefusal.id <= cutoff))
