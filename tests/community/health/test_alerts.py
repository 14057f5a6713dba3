"""Alerts from a hand-built ScopeHealth, on a real store (SQLite and PostgreSQL), a real
outgoing-webhook receiver and the forum sandbox: raised once, told once, resolved once.

Each test starts its own forum: alert ids restart at 1 in every fresh store, and the
forum keys alert topics by id (``constellate-alert-1``), so a shared forum would hand
one test's topic to the next.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from community.health.alerts import apply_alerts, notify
from community.health.models import HealthAlert
from community.health.scope import CONSTELLATION, ScopeHealth
from connectors.discourse.client import ForumClient
from core.config import DEFAULTS, Settings
from core.errors import ConfigError, NotFound
from core.store import Store
from sandbox.forum.server import ForumServer
from service.worker import Worker
from tests.conftest import UNTHROTTLED, SessionForum
from tests.webhooks import outgoing_support
from tests.webhooks.outgoing_support import SECRET, Receiver, spec_signature
from webhooks.outgoing.delivery import deliver_due
from webhooks.outgoing.models import OutgoingMessage

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SCOPE = "constellation:4242"


@pytest.fixture
def own_forum() -> Iterator[SessionForum]:
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        yield SessionForum(server)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from outgoing_support.running_receiver()


@dataclass
class Rig:
    """The forum as the alerts see it: our client, a moderators' category, a lead group
    with one member, and someone outside it."""

    client: ForumClient
    category_id: int
    category: str
    group: str
    member: ForumClient
    outsider: ForumClient


@pytest.fixture
def rig(own_forum: SessionForum) -> Rig:
    client = ForumClient(
        {"url": own_forum.url, "api_key": own_forum.api_key, "api_username": "system"}
    )
    category = client.create_category("Moderators only")
    group = client.create_group("flood-wardens-lead")
    member, outsider = "wendy", "oscar"
    for name in (member, outsider):
        client.create_user(name, name.title(), f"{name}@example.org")
    client.add_group_members(group, [member])
    return Rig(
        client,
        category.id,
        category.name,
        group.name,
        client.acting_as(member),
        client.acting_as(outsider),
    )


def config(receiver: Receiver, **health: Any) -> Settings:
    settings = copy.deepcopy(DEFAULTS)
    entry = {"url": receiver.url, "secret": SECRET, "events": ["health.alert.*"]}
    settings.update(outgoing_support.settings(subscriptions=[entry]))
    settings["health"].update(health)
    return settings


def health(
    unanswered: int,
    eligible: int = 10,
    *,
    at: datetime = T0,
    status: str = "active",
    figures: dict[str, Any] | None = None,
) -> ScopeHealth:
    """Flood Wardens' health: ``unanswered`` of ``eligible`` topics had no reply in time."""
    window = {"unanswered": {"eligible": eligible, "rate": unanswered / eligible}}
    return ScopeHealth(
        scope=SCOPE,
        kind=CONSTELLATION,
        label="Flood Wardens Network",
        status=status,
        lead_group="flood-wardens-lead",
        computed_at=at,
        windows={30: window, 90: figures or {}},
    )


def alerts(store: Store) -> list[HealthAlert]:
    with store.session() as session:
        return list(session.scalars(select(HealthAlert).order_by(HealthAlert.id)))


def queued_kinds(store: Store, settings: Settings) -> list[str]:
    """The outgoing messages queued, once a worker took what the alerts recorded in the
    inbox (the worker offers every event to the subscribers; nothing else does)."""
    worker = Worker(store, {**settings, "worker": {**DEFAULTS["worker"], **settings["worker"]}})
    while (held := worker.claim()) is not None:
        worker.process(held)
    with store.session() as session:
        rows = session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))
        return [row.event_kind for row in rows]


def delivered(store: Store, settings: Settings, receiver: Receiver) -> dict[str, Any]:
    """Deliver what is due; the one request the receiver got, its signature checked."""
    before = len(receiver.received)
    assert deliver_due(store, settings) == 1
    assert len(receiver.received) == before + 1
    request = receiver.received[-1]
    headers = request.headers
    expected = spec_signature(
        SECRET, headers["webhook-id"], headers["webhook-timestamp"], request.body
    )
    assert expected in headers["webhook-signature"].split(" ")
    document: dict[str, Any] = json.loads(request.body)
    return document


def test_an_alert_is_raised_told_and_resolved_once_each(
    store: Store, receiver: Receiver, rig: Rig
) -> None:
    settings = config(receiver, moderators_category="Moderators only", message_lead_group=True)

    # 6 of 10 topics unanswered: 0.6 >= 0.5 raises (10 eligible >= the minimum of 4)
    with store.session() as session:
        changed = apply_alerts(session, settings, health(6))
        assert [(a.rule, a.state) for a in changed] == [("unanswered", "open")]
    [alert] = alerts(store)
    assert (alert.scope, alert.label, alert.metric, alert.window_days) == (
        SCOPE,
        "Flood Wardens Network",
        "unanswered.rate",
        30,
    )
    assert (alert.value, alert.threshold, alert.raised_at) == (6 / 10, 0.5, T0)
    assert alert.message == (
        "Questions are left unanswered in Flood Wardens Network: the share of topics left "
        "unanswered over the last 30 days is 60 % (the alert is raised at 50 % or more)."
    )
    assert queued_kinds(store, settings) == ["health.alert.raised"]
    raised = delivered(store, settings, receiver)
    assert raised["type"] == "health.alert.raised"
    assert raised["data"]["event_id"] == f"health:alert:{alert.id}:raised"
    assert raised["data"]["subject"] == SCOPE and raised["data"]["actor"] is None
    assert raised["data"]["payload"] == {
        "id": alert.id,
        "rule": "unanswered",
        "scope": SCOPE,
        "label": "Flood Wardens Network",
        "metric": "unanswered.rate",
        "window_days": 30,
        "value": 0.6,
        "threshold": 0.5,
        "title": "Questions are left unanswered",
        "message": alert.message,
        "raised_at": T0.isoformat(),
        "resolved_at": None,
    }

    # told: a topic in the moderators' category and a message to the lead group
    with store.session() as session:
        assert notify(session, rig.client, settings) == 2
    [alert] = alerts(store)
    assert alert.forum_topic_id is not None and alert.group_message_topic_id is not None
    topic = rig.client.get_topic(alert.forum_topic_id)
    assert topic.category_id == rig.category_id
    assert topic.title == f"Questions are left unanswered: Flood Wardens Network (alert {alert.id})"
    [first] = topic.posts
    assert first.raw is not None and first.raw.startswith(alert.message)
    assert "A short welcome" in first.raw  # the rule's advice
    message = rig.member.get_topic(alert.group_message_topic_id)  # the lead group's member
    assert message.data["archetype"] == "private_message"
    assert message.title == (
        f"Questions are left unanswered: Flood Wardens Network (alert {alert.id}, for the leads)"
    )
    assert message.posts[0].raw == first.raw
    with pytest.raises(NotFound):
        rig.outsider.get_topic(alert.group_message_topic_id)

    # the same health an hour later: no second alert, no webhook, no second topic
    with store.session() as session:
        assert apply_alerts(session, settings, health(6, at=T0 + timedelta(hours=1))) == []
        assert notify(session, rig.client, settings) == 0
    [again] = alerts(store)
    assert again.id == alert.id and again.updated_at == T0 + timedelta(hours=1)
    assert queued_kinds(store, settings) == ["health.alert.raised"]
    assert rig.client.get_topic(alert.forum_topic_id).posts_count == 1

    # recovery: 2 of 10 = 0.2 <= 0.25 clears
    recovered_at = T0 + timedelta(days=3)
    with store.session() as session:
        [resolved] = apply_alerts(session, settings, health(2, at=recovered_at))
        assert (resolved.id, resolved.state) == (alert.id, "resolved")
    [resolved] = alerts(store)
    assert (resolved.resolved_at, resolved.value) == (recovered_at, 2 / 10)
    assert resolved.message == (
        "Resolved: the share of topics left unanswered in Flood Wardens Network is back to "
        "20 % over the last 30 days."
    )
    assert queued_kinds(store, settings) == ["health.alert.raised", "health.alert.resolved"]
    document = delivered(store, settings, receiver)
    assert document["type"] == "health.alert.resolved"
    assert document["data"]["event_id"] == f"health:alert:{alert.id}:resolved"
    payload = document["data"]["payload"]
    assert (payload["value"], payload["message"]) == (0.2, resolved.message)
    assert payload["resolved_at"] == recovered_at.isoformat()

    with store.session() as session:
        assert notify(session, rig.client, settings) == 2  # two replies
        assert notify(session, rig.client, settings) == 0
    for reader, topic_id in (
        (rig.client, alert.forum_topic_id),
        (rig.member, alert.group_message_topic_id),
    ):
        posts = reader.get_topic(topic_id).posts
        assert [p.raw for p in posts[1:]] == [resolved.message]
        assert posts[1].raw is not None and posts[1].raw.startswith("Resolved: ")
    assert alerts(store)[0].resolution_posted is True


def test_a_value_flapping_between_the_thresholds_changes_nothing(
    store: Store, receiver: Receiver
) -> None:
    settings = config(receiver)
    # closed: 4 and 3 of 10 (0.4, 0.3) lie between clear_at 0.25 and raise_at 0.5
    with store.session() as session:
        for hour, unanswered in enumerate((4, 3, 4, 3)):
            at = T0 + timedelta(hours=hour)
            assert apply_alerts(session, settings, health(unanswered, at=at)) == []
    assert alerts(store) == [] and queued_kinds(store, settings) == []

    # open: values between the thresholds update the alert, never resolve it
    with store.session() as session:
        apply_alerts(session, settings, health(5))  # 5/10 = 0.5 raises
        for hour, unanswered in enumerate((3, 4, 3), start=1):
            at = T0 + timedelta(hours=hour)
            [updated] = apply_alerts(session, settings, health(unanswered, at=at))
            assert updated.state == "open" and updated.value == unanswered / 10
    [alert] = alerts(store)
    assert (alert.state, alert.value, alert.resolved_at) == ("open", 3 / 10, None)
    assert alert.message.endswith("is 30 % (the alert is raised at 50 % or more).")
    assert queued_kinds(store, settings) == ["health.alert.raised"]


def test_a_small_sample_raises_nothing_and_an_undefined_figure_keeps_the_alert(
    store: Store, receiver: Receiver
) -> None:
    settings = config(receiver)
    with store.session() as session:
        assert apply_alerts(session, settings, health(3, eligible=3)) == []  # 3 < minimum 4
        [raised] = apply_alerts(session, settings, health(4, eligible=4))  # 4/4 = 1.0
        no_rate = {30: {"unanswered": {"eligible": 0, "rate": None}}}  # no topics old enough
        assert apply_alerts(session, settings, replace(health(0), windows=no_rate)) == []
        # a sample too small to raise still clears: 0 of 1 = 0.0
        [cleared] = apply_alerts(session, settings, health(0, eligible=1))
    assert raised.id == cleared.id and cleared.state == "resolved"


def test_a_constellation_gone_dormant_resolves_its_constellation_only_alert(
    store: Store, receiver: Receiver
) -> None:
    settings = config(receiver)
    overrun = {"leadership": {"terms_overrun": 1}}
    with store.session() as session:
        [raised] = apply_alerts(session, settings, health(0, figures=overrun))
        assert raised.rule == "leadership_overrun"
        later = T0 + timedelta(days=1)
        [resolved] = apply_alerts(
            session, settings, health(0, at=later, status="dormant", figures=overrun)
        )
    assert (resolved.id, resolved.state, resolved.resolved_at) == (raised.id, "resolved", later)
    assert resolved.message == (
        "Resolved: Flood Wardens Network is now dormant, so this alert no longer applies."
    )
    assert queued_kinds(store, settings) == ["health.alert.raised", "health.alert.resolved"]


def test_telling_is_safe_to_repeat_after_a_crash_before_commit(
    store: Store, receiver: Receiver, rig: Rig
) -> None:
    settings = config(receiver, moderators_category="moderators ONLY")  # any case
    with store.session() as session:
        apply_alerts(session, settings, health(6))
    with pytest.raises(RuntimeError), store.session() as session:
        assert notify(session, rig.client, settings) == 1
        raise RuntimeError("the worker died before committing")
    assert alerts(store)[0].forum_topic_id is None  # the topic exists, its id was lost
    with store.session() as session:
        assert notify(session, rig.client, settings) == 0  # found by its external id
    [alert] = alerts(store)
    assert alert.forum_topic_id is not None and alert.group_message_topic_id is None

    with store.session() as session:
        apply_alerts(session, settings, health(1, at=T0 + timedelta(days=1)))
    with pytest.raises(RuntimeError), store.session() as session:
        assert notify(session, rig.client, settings) == 1
        raise RuntimeError("the worker died before committing")
    with store.session() as session:
        assert notify(session, rig.client, settings) == 0  # the reply is already there
        count = session.scalar(select(func.count()).select_from(HealthAlert))
    assert count == 1
    assert rig.client.get_topic(alert.forum_topic_id).posts_count == 2


def test_a_missing_moderators_category_names_the_setting(
    store: Store, receiver: Receiver, rig: Rig
) -> None:
    settings = config(receiver, moderators_category="Nobody's category")
    with store.session() as session:
        apply_alerts(session, settings, health(6))
        with pytest.raises(ConfigError, match=r"^health\.moderators_category: .*Nobody's"):
            notify(session, rig.client, settings)


def test_an_alert_of_a_rule_dropped_from_the_thresholds_resolves(
    store: Store, receiver: Receiver
) -> None:
    settings = config(receiver)
    with store.session() as session:
        [raised] = apply_alerts(session, settings, health(6))
        session.add(
            HealthAlert(
                rule="retired_rule",
                scope=SCOPE,
                label="Flood Wardens Network",
                metric="pulse.cv",
                window_days=90,
                value=2.0,
                threshold=1.5,
            )
        )
        session.flush()
        changed = apply_alerts(session, settings, health(6, at=T0 + timedelta(hours=1)))
    assert [(a.rule, a.state) for a in changed] == [("retired_rule", "resolved")]
    assert [(a.rule, a.state) for a in alerts(store)] == [
        ("unanswered", "open"),
        ("retired_rule", "resolved"),
    ]
    assert raised.state == "open"
