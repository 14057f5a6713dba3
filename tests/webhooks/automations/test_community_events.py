"""The community events rules trigger on reach the inbox: health alerts raised and
resolved (real store), and a constellation's status change seen by the sync (the real
wiki and the forum sandbox)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from community.constellations.charter import parse_charter
from community.constellations.forum_mirror import ForumOutcome, sync_to_forum
from community.health.alerts import apply_alerts
from community.health.scope import CONSTELLATION, ScopeHealth
from connectors.discourse.client import ForumClient
from core.config import DEFAULTS
from core.event_kinds import ALERT_RAISED, ALERT_RESOLVED, STATUS_CHANGED
from core.models import InboxEvent
from core.store import Store
from tests.community.constellations.sync_support import charter_text
from tests.conftest import SessionForum, SessionWiki

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SCOPE = "constellation:5151"


def inbox(store: Store, *kinds: str) -> list[InboxEvent]:
    with store.session() as session:
        query = select(InboxEvent).where(InboxEvent.kind.in_(kinds)).order_by(InboxEvent.id)
        return list(session.scalars(query))


def health(unanswered: int, at: datetime) -> ScopeHealth:
    """``unanswered`` of 10 topics had no reply in time (the alert rises at half)."""
    window = {"unanswered": {"eligible": 10, "rate": unanswered / 10}}
    return ScopeHealth(
        scope=SCOPE,
        kind=CONSTELLATION,
        label="Tide Gauges Network",
        status="active",
        lead_group="tide-gauges-lead",
        computed_at=at,
        windows={30: window, 90: {}},
    )


def test_an_alert_raised_and_resolved_puts_each_event_in_the_inbox(store: Store) -> None:
    settings = copy.deepcopy(DEFAULTS)
    with store.session() as session:
        [alert] = apply_alerts(session, settings, health(6, T0))
        alert_id = alert.id
    [raised] = inbox(store, ALERT_RAISED, ALERT_RESOLVED)
    assert raised.event_id == f"health:alert:{alert_id}:raised"
    assert (raised.kind, raised.source, raised.subject) == (ALERT_RAISED, "health", SCOPE)
    assert (raised.state, raised.occurred_at) == ("pending", T0)
    assert raised.payload["rule"] == "unanswered"
    assert raised.payload["label"] == "Tide Gauges Network"
    assert (raised.payload["value"], raised.payload["threshold"]) == (0.6, 0.5)

    with store.session() as session:  # still high an hour later: nothing new
        assert apply_alerts(session, settings, health(6, T0 + timedelta(hours=1))) == []
    assert len(inbox(store, ALERT_RAISED, ALERT_RESOLVED)) == 1

    recovered = T0 + timedelta(days=2)
    with store.session() as session:
        apply_alerts(session, settings, health(2, recovered))
    _, resolved = inbox(store, ALERT_RAISED, ALERT_RESOLVED)
    assert resolved.event_id == f"health:alert:{alert_id}:resolved"
    assert (resolved.kind, resolved.source, resolved.occurred_at) == (
        ALERT_RESOLVED,
        "health",
        recovered,
    )
    assert resolved.payload["resolved_at"] == recovered.isoformat()
    assert resolved.payload["message"].startswith("Resolved: ")


class Sync:
    """One constellation page on the real wiki, synced to the forum sandbox."""

    def __init__(self, wiki: SessionWiki, forum: SessionForum, store: Store) -> None:
        self.bot = wiki.bot()
        self.forum = ForumClient(
            {"url": forum.url, "api_username": forum.api_username, "api_key": forum.api_key}
        )
        self.store = store
        self.title = wiki.title("Tide Gauges")
        self.category = forum.name("Tide gauges ")
        self.settings: dict[str, Any] = {
            "wiki": wiki.config(),
            "constellations": {
                "parent_category": forum.name("Constellations "),
                "read_only_on_sunset": False,
                "recent_topics": 8,
                "participant_days": 90,
            },
        }

    def write(self, status: str) -> None:
        text = charter_text(self.category, status=status)
        self.bot.edit(self.title, text, summary="status test", mode="any")

    def sync(self, *, dry_run: bool = False) -> tuple[ForumOutcome, int | None, int | None]:
        """(the outcome, the page id, the revision synced)."""
        page = self.bot.read_pages([self.title])[self.title]
        charter = parse_charter(page.title, page.text)
        with self.store.session() as session:
            outcome = sync_to_forum(
                session, self.forum, self.settings, page=page, charter=charter, dry_run=dry_run
            )
        return outcome, page.pageid, page.revid


def test_a_charter_status_change_through_the_sync_records_one_event(
    wiki: SessionWiki, forum: SessionForum, store: Store
) -> None:
    rig = Sync(wiki, forum, store)
    rig.write("forming")
    outcome, page_id, _ = rig.sync()
    assert outcome.action == "created"
    assert inbox(store, STATUS_CHANGED) == []  # a new constellation is no change

    rig.write("active")
    assert rig.sync(dry_run=True)[0].action == "updated"
    assert inbox(store, STATUS_CHANGED) == []  # a dry run records nothing

    outcome, _, revid = rig.sync()
    assert outcome.action == "updated"
    [event] = inbox(store, STATUS_CHANGED)
    assert event.event_id == f"community:status:{page_id}:{revid}:active"
    assert (event.source, event.subject, event.actor) == (
        "community",
        f"constellation:{page_id}",
        None,
    )
    assert event.payload == {
        "page_id": page_id,
        "title": rig.title,
        "old_status": "forming",
        "new_status": "active",
        "revid": revid,
    }

    assert rig.sync()[0].action == "unchanged"
    rig.write("dormant")
    rig.sync()
    changes = [
        (e.payload["old_status"], e.payload["new_status"]) for e in inbox(store, STATUS_CHANGED)
    ]
    assert changes == [("forming", "active"), ("active", "dormant")]
