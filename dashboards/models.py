"""The dashboard's own tables: server-side login sessions and API tokens for machines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime


class DashboardSession(Base):
    """One browser's session. The cookie holds a random id; only its SHA-256 is stored, so
    a copy of the store lets nobody in. Ending a session deletes the row: logout, expiry
    and a lost role really end it (a signed cookie could not be taken back)."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_forum_user", "forum_user_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, object]] = mapped_column(Payload, default=dict)
    username: Mapped[str | None] = mapped_column(String(60))
    forum_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    role_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A read-only token for machines: ``Authorization: Bearer <token>``. Only the token's
    SHA-256 is kept; the token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
