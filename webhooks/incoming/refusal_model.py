"""The table of refused deliveries (webhooks/incoming/refusals.py writes it), as the
dashboard's webhook log and the migrations read it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, UTCDateTime
from webhooks.incoming.refusals import NAME_LENGTH, TABLE


class IncomingRefusal(Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    event_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    delivery_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    body_sha256: Mapped[str] = mapped_column(String(64))
    body_size: Mapped[int] = mapped_column(Integer)
