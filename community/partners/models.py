"""The partner registry as stored: one row per partner page on the wiki."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, UTCDateTime


class Partner(Base):
    """A partner organisation: its ``{{Partner}}`` page and the forum group its people
    belong to. Pages name a partner by its name, short name or group name; all three
    lead here, and the partner is called by its name. A retired partner (its page
    deleted or its template removed) is kept for history and counts no more."""

    __tablename__ = "partners"

    group_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    short_name: Mapped[str | None] = mapped_column(String(255))
    page_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    wiki_title: Mapped[str | None] = mapped_column(String(255))
    group_id: Mapped[int | None] = mapped_column(Integer)
    website: Mapped[str | None] = mapped_column(String(255))
    joined: Mapped[date | None] = mapped_column(Date)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
