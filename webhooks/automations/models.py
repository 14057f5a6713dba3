"""Tables of the automations: every run of a rule, the objects rules made (loop
prevention), the cron cursors, and the named wiki sections rules write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime

# started: the actions are under way (a crash leaves it so; the retry looks for what
# was done); done; failed: an action failed (error says which); stopped: the loop limit.
RUN_STATES = ("started", "done", "failed", "stopped")


class AutomationRun(Base):
    """One rule run on one event; the same event again finds its run and does not redo
    what was done."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("rule", "event_id", name="uq_automation_runs_rule_event"),
        Index("ix_automation_runs_state_time", "state", "started_at"),
        Index("ix_automation_runs_time_id", "started_at", "id"),  # the dashboard's lists
        Index("ix_automation_runs_rule_time_id", "rule", "started_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    event_id: Mapped[str] = mapped_column(String(128))
    event_kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    # One entry per action: {"kind", "description", "result": done|failed|skipped, "error"}
    actions: Mapped[list[Any]] = mapped_column(Payload, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AutomationMark(Base):
    """A platform object a rule's action made or changed ("post:678"): an event about it
    is that rule's own doing, ``chain`` long (the rules that led to it, in order)."""

    __tablename__ = "automation_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(255))  # what the chain is about: "topic:45"
    chain: Mapped[list[Any]] = mapped_column(Payload, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ScheduleCursor(Base):
    """The last slot a cron rule fired for (so a restart fires a missed slot once, and
    several workers fire each slot once)."""

    __tablename__ = "automation_schedule_cursors"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    cron: Mapped[str] = mapped_column(String(128))  # a changed expression starts afresh
    last_slot: Mapped[datetime] = mapped_column(UTCDateTime)


class NamedSectionState(Base):
    """The hash of what a rule last wrote inside a named section of a wiki page
    (``<!-- constellate:NAME:begin -->``): another hash there means a person edited it."""

    __tablename__ = "automation_wiki_sections"

    page_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    written_hash: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
