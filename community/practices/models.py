"""The practices registry (tables): practices, their tag names, where they are discussed,
who adopted them, and the suggestions waiting for a moderator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime


class Practice(Base):
    """A wiki page with ``{{Practice}}`` as last parsed, keyed by its page id (stable
    across moves). ``tag`` is its current forum tag."""

    __tablename__ = "practices"

    page_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255), index=True)
    tag: Mapped[str] = mapped_column(String(100), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    originating_organisation: Mapped[str] = mapped_column(String(255), default="")
    related_constellations: Mapped[list[str]] = mapped_column(Payload, default=list)
    aliases: Mapped[list[str]] = mapped_column(Payload, default=list)
    revid: Mapped[int] = mapped_column(Integer)
    # Who authored the practice: the wiki account that created the page, or the forum
    # author of a topic promoted to a practice.
    author: Mapped[str | None] = mapped_column(String(255))
    author_platform: Mapped[str | None] = mapped_column(String(8))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class PracticeTagName(Base):
    """Every tag name a practice has had: the current one and those it was renamed from
    (kept as synonyms). Unique, so no two practices can ever map to one tag."""

    __tablename__ = "practice_tag_names"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    page_id: Mapped[int] = mapped_column(Integer, index=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class PracticeTopic(Base):
    """A forum topic that discusses a practice, and how we know (link, title, alias, tag)."""

    __tablename__ = "practice_topics"
    __table_args__ = (UniqueConstraint("page_id", "topic_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(Integer, index=True)
    topic_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(255), default="")
    matched_by: Mapped[str] = mapped_column(String(16))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PracticeAdoption(Base):
    """An organisation that adopted a practice: from the template or an "adopt" action."""

    __tablename__ = "practice_adoptions"
    __table_args__ = (UniqueConstraint("page_id", "organisation"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(Integer, index=True)
    organisation: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # template | action
    actor: Mapped[str | None] = mapped_column(String(255))
    revid: Mapped[int | None] = mapped_column(Integer)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PracticeSuggestion(Base):
    """Something for a moderator to decide: a forum topic that looks like a practice
    (``candidate``) or a practice tag people made on the forum with no page (``stub``).

    ``key`` (``topic:<id>`` or ``tag:<name>``) keeps one suggestion per subject, so a
    dismissed one is never suggested again."""

    __tablename__ = "practice_suggestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # candidate | stub
    topic_id: Mapped[int | None] = mapped_column(Integer)
    tag: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[Any]] = mapped_column(Payload, default=list)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|promoted|dismissed
    page_title: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)
