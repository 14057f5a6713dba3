"""The worker's timers: what it does because time passed, not because an event arrived.

Each duty has its interval (0: off) and runs when that much time has passed since its
last run: reading the wiki's recent changes and the forum's new posts (missed webhooks),
scheduling the health recompute, the partner groups' members' refresh, badges and
identity-link suggestions, looking for due
automation schedules, beats, unanswered topics and stale charters, and re-checking
dashboard roles on the forum. A duty that
fails is reported and tried again at its next turn; it never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from community.backfill import handlers as backfill
from community.credits import handlers as credits
from community.health import handlers as health
from community.partners import handlers as partners
from connectors.discourse.client import ForumClient
from core import forum_budget, inbox
from core.clock import Clock
from core.config import Settings
from core.models import InboxEvent
from core.store import Store
from dashboards import roles
from webhooks.automations import loops, scheduler
from webhooks.incoming import forum_poll, wiki_poll

# While webhooks arrive, the forum poll runs this seldom: one request in five minutes.
SAFETY_NET_SECONDS = 300


class Timers:
    """The timed duties of one worker; ``enabled`` is False for all but the first worker
    thread of a process (and in unit tests of the worker)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        *,
        enabled: bool,
        report: Callable[[str, Exception], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.report = report
        self.every: dict[str, float] = {}
        # Quiet constellations send no events: their health is recomputed on schedule.
        self.health_minutes = float(settings["health"]["recompute_minutes"]) if enabled else 0.0
        # Partner groups' members, read again: the safety net for membership webhooks.
        self.affiliation_hours = float(settings["partners"]["affiliation_refresh_hours"])
        # Badges and identity suggestions change without a moderator: the worker runs both.
        self.credit_hours = {
            "badges": float(settings["credits"]["badges_hours"]),
            "suggestions": float(settings["credits"]["suggestions_hours"]),
        }
        if enabled:
            config = settings["worker"]
            self.every = {
                "wiki": float(config["wiki_poll_seconds"]),
                "forum": float(config["forum_poll_seconds"]),
                "health": self.health_minutes * 60,
                "automations": float(settings["automations"]["scan_seconds"]),
                "roles": float(settings["dashboard"]["recheck_minutes"]) * 60,
                "affiliations": self.affiliation_hours * 3600,
                **{duty: hours * 3600 for duty, hours in self.credit_hours.items()},
            }
        self._last: dict[str, datetime] = {}
        self._forum_read: datetime | None = None
        # The first start reads the platforms' history (once per process, then the inbox
        # holds it; see community.backfill.handlers).
        self._backfill_asked = not enabled

    def run_due(self) -> None:
        if not self._backfill_asked:
            self._backfill_asked = True
            try:
                self._ask_for_backfill()
            except Exception as exc:  # like any duty: reported, never stopping the rest
                self.report("backfill scheduling failed", exc)
        with forum_budget.priority("scan"):  # after the work that events and people cause
            self._run_due()

    def _ask_for_backfill(self) -> None:
        with self.store.session() as session:
            event = backfill.first_start_event(session, self.settings, self.clock())
            if event is not None:
                inbox.record(session, event)

    def _run_due(self) -> None:
        self._when_due("wiki", self._poll_wiki)
        self._when_due("forum", self._poll_forum)
        self._when_due("health", self._schedule_health)
        self._when_due("automations", self._schedule_automations)
        self._when_due("roles", self._recheck_roles)
        self._when_due("affiliations", self._schedule_affiliations)
        self._when_due("badges", lambda: self._schedule_credit("badges"))
        self._when_due("suggestions", lambda: self._schedule_credit("suggestions"))

    def _when_due(self, duty: str, run: Callable[[], object]) -> None:
        every = self.every.get(duty, 0.0)
        now, last = self.clock(), self._last.get(duty)
        if not every or (last and (now - last).total_seconds() < every):
            return
        self._last[duty] = now
        try:
            run()
        except Exception as exc:  # a platform outage must not stop the rest of the work
            self.report(f"{duty} poll failed", exc)

    def _poll_wiki(self) -> None:
        # One try per cycle: a wiki that is down must not hold up event processing;
        # the next cycle tries again.
        once = {**self.settings, "wiki": {**self.settings["wiki"], "max_retries": 0}}
        wiki_poll.poll_wiki(self.store, once)

    def _poll_forum(self) -> None:
        """The forum's new posts, for what webhooks missed: every ``forum_poll_seconds``
        while none arrive, once in ``SAFETY_NET_SECONDS`` while they do (the poll is then
        only a safety net, and the forum's budget is for the work)."""
        now = self.clock()
        if (
            self._forum_read is not None
            and (now - self._forum_read).total_seconds() < SAFETY_NET_SECONDS
            and self._webhooks_arriving(now)
        ):
            return
        self._forum_read = now
        # No waiting out rate limits here either: the next cycle tries again.
        forum_poll.poll_forum(self.store, self._forum_once())

    def _webhooks_arriving(self, now: datetime) -> bool:
        with self.store.session() as session:
            latest = session.scalar(
                select(InboxEvent.received_at)
                .where(InboxEvent.source == "forum", InboxEvent.delivery_id.is_not(None))
                .order_by(InboxEvent.id.desc())
                .limit(1)
            )
        return latest is not None and (now - latest).total_seconds() < SAFETY_NET_SECONDS

    def _schedule_health(self) -> None:
        with self.store.session() as session:
            inbox.record(session, health.schedule_event(self.clock(), self.health_minutes))

    def _schedule_affiliations(self) -> None:
        if self.settings["forum"]["url"]:
            with self.store.session() as session:
                event = partners.schedule_event(self.clock(), self.affiliation_hours)
                inbox.record(session, event)

    def _schedule_credit(self, duty: str) -> None:
        if self.settings["forum"]["url"]:
            with self.store.session() as session:
                event = credits.schedule_event(duty, self.clock(), self.credit_hours[duty])
                inbox.record(session, event)

    def _schedule_automations(self) -> None:
        now = self.clock()
        scheduler.record_due_for_rules(self.store, self._forum_once(), now=now)
        with self.store.session() as session:
            loops.forget_expired(session, now)

    def _recheck_roles(self) -> None:
        once = self._forum_once()
        if once["forum"]["url"]:
            roles.recheck_roles(self.store, once, ForumClient(once["forum"]), now=self.clock())

    def _forum_once(self) -> Settings:
        """The settings with no waiting out the forum's rate limits: a timed duty tries
        again at its next turn instead."""
        return {**self.settings, "forum": {**self.settings["forum"], "rate_limit_wait_budget": 0}}
