"""Health snapshots (one per scope, window and day, so trends can be drawn) and alerts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime


class HealthSnapshot(Base):
    """The metrics of one scope over one window, as last computed on ``day``.

    A scope is ``constellation:<wiki page id>`` or ``category:<forum category id>``. A
    recompute on the same day replaces that day's values; earlier days stay as history.
    """

    __tablename__ = "health_snapshots"
    __table_args__ = (UniqueConstraint("scope", "window_days", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255))
    window_days: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    values: Mapped[dict[str, Any]] = mapped_column(Payload)


class HealthAlert(Base):
    """An alert of one rule on one scope: raised, updated while it holds, resolved when
    the metric recovers. At most one open alert per (rule, scope); resolved ones stay."""

    __tablename__ = "health_alerts"
    __table_args__ = (
        Index(
            "uq_health_alerts_open",
            "rule",
            "scope",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(255))
    # The forum group of the constellation's lead partner when raised (it is messaged).
    lead_group: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    metric: Mapped[str] = mapped_column(String(64))
    window_days: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the alert was told (None: not yet; a failed post is tried again next time).
    forum_topic_id: Mapped[int | None] = mapped_column(Integer)
    group_message_topic_id: Mapped[int | None] = mapped_column(Integer)
    resolution_posted: Mapped[bool] = mapped_column(default=False)


# Streams of ``HealthGeneration`` other than a forum category's (core/migrations 0024).
EVERY_INPUT = 0  # people, accounts, partners, practices, adoptions, leadership, a post's change
WIKI_PAGES = -1  # the wiki's changes (the freshness of pages)
FIRST_POSTS = -2  # the accounts' first two posts (newcomers)
LINKS = -3  # the constellations' page links (a scope's charter)
IDENTITY = -4  # not a counter: drawn when the store was made (figures kept are its own)


class HealthGeneration(Base):
    """How many changes a stream has had: a forum category's new posts (the stream is its
    id), or one of the streams above. Kept by the store's triggers, never by code."""

    __tablename__ = "health_generations"

    stream: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(Integer)


class HealthPostLog(Base):
    """The post each generation of a category's stream added (kept by a trigger)."""

    __tablename__ = "health_post_log"

    category_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    post_id: Mapped[int] = mapped_column(Integer)
