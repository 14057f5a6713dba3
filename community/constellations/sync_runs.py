"""The record of constellation sync runs: who started each, what it covered, what it did.

A run's row is written when it starts (so a long reconcile shows as running) and
completed when it ends, with the error if it failed. Dry runs leave no record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime
from core.store import Store

TRIGGERS = ("schedule", "command", "dashboard", "event")
FULL = "full"  # the scope of a full reconcile; otherwise the titles, one a line
# SyncSummary counts that mean a page changed somewhere (forum, wiki or the store).
CHANGES = (
    "created",
    "updated",
    "merged",
    "renamed",
    "archived",
    "restored",
    "wiki_sections_written",
    "leadership_changes",
)
log = logging.getLogger(__name__)


class SyncRun(Base):
    """One run of the reconcile; ``finished_at`` is None while it runs (or if it died)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages_seen: Mapped[int] = mapped_column(Integer, default=0)
    pages_changed: Mapped[int] = mapped_column(Integer, default=0)
    # The run's SyncSummary counts (created, updated, conflicts, ...).
    counts: Mapped[dict[str, Any]] = mapped_column(Payload, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


def scope_of(titles: Iterable[str] | None, full: bool) -> str:
    if full:
        return FULL
    return "\n".join(dict.fromkeys(t for t in titles or () if t.strip()))


class RunRecord:
    """Counts one run's pages and writes them to its ``SyncRun`` row at the end."""

    def __init__(self, store: Store | None, run_id: int | None) -> None:
        self._store = store
        self.run_id = run_id
        self.pages_seen = 0
        self.pages_changed = 0

    def page_synced(self, counts: Mapping[str, int]) -> None:
        self.pages_seen += 1
        if any(counts.get(name) for name in CHANGES):
            self.pages_changed += 1

    def page_failed(self) -> None:
        self.pages_seen += 1

    def finish(self, counts: Mapping[str, int], error: str | None = None) -> None:
        if self._store is None or self.run_id is None:
            return
        try:
            with self._store.session() as session:
                run = session.get(SyncRun, self.run_id)
                if run is None:
                    return
                run.finished_at = clock.now()
                run.pages_seen = self.pages_seen
                run.pages_changed = self.pages_changed
                run.counts = dict(counts)
                run.error = error
        except Exception:
            if error is None:
                raise
            # Already failing: the run's own error is the one the caller must see.
            log.exception("could not record the end of sync run %s", self.run_id)


def start_run(
    store: Store,
    *,
    trigger: str,
    scope: str,
    requested_by: str | None = None,
    dry_run: bool = False,
) -> RunRecord:
    """Record a run as started (committed at once); a dry run gets a record kept nowhere."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown sync trigger {trigger!r}")
    if dry_run:
        return RunRecord(None, None)
    with store.session() as session:
        run = SyncRun(trigger=trigger, scope=scope, requested_by=requested_by, counts={})
        session.add(run)
        session.flush()
        run_id = run.id
    return RunRecord(store, run_id)
