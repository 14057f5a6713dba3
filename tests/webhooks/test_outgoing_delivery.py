"""Outgoing delivery against a real (independent) HTTP receiver, with a fake clock."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from core.config import Settings
from core.migrate import upgrade
from core.store import Store
from tests.webhooks.outgoing_support import (
    SECRET,
    Receiver,
    event,
    running_receiver,
    settings,
    spec_signature,
)
from webhooks.outgoing import delivery, subscriptions
from webhooks.outgoing.delivery import RETRY_DELAYS, Courier, deliver_due, next_delay, replay
from webhooks.outgoing.models import DeliveryAttempt, OutgoingMessage, WebhookSubscription
from webhooks.outgoing.queue import fan_out

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


class Midpoint(random.Random):
    """Jitter pinned to its middle, so the schedule can be asserted exactly."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running_receiver()


def subscribe(receiver: Receiver, events: list[str] | None = None) -> Settings:
    entry = {"url": receiver.url, "secret": SECRET, "events": events or ["forum.*"]}
    return settings(subscriptions=[entry])


def queue(store: Store, config: Settings, number: int = 1, now: datetime | None = T0) -> int:
    """Queue an event, due at the fake clock's start (or at the real clock's now)."""
    with store.session() as session:
        return fan_out(session, event(number), config, now=now)


def message(store: Store) -> OutgoingMessage:
    with store.session() as session:
        found = session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).first()
    assert found is not None
    return found


COURIER = Courier(rng=Midpoint())


def test_a_receiver_verifies_the_signed_message_with_the_reference_library(
    store: Store, receiver: Receiver
) -> None:
    config = subscribe(receiver)
    assert queue(store, config, now=None) == 1
    assert deliver_due(store, config) == 1
    [request] = receiver.received
    payload = Webhook(SECRET).verify(request.body, request.headers)  # real clock, ±5 min
    assert payload["type"] == "forum.post_created"
    assert payload["data"]["event_id"] == "forum:post_created:1"
    assert payload["data"]["payload"] == {"post": {"id": 1, "raw": "héllo ✓"}}
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    sent = message(store)
    assert sent.state == "delivered" and sent.attempts == 1 and sent.last_status == 200
    assert request.body == sent.body.encode()  # byte-identical to what was stored and signed
    with store.session() as session:
        [attempt] = session.scalars(select(DeliveryAttempt)).all()
        assert attempt.status == 200 and attempt.response_snippet == "ok"


def test_the_same_event_fanned_out_twice_is_one_message_and_filters_apply(
    store: Store, receiver: Receiver
) -> None:
    config = settings(
        subscriptions=[
            {"url": receiver.url, "secret": SECRET, "events": ["forum.*"]},
            {"url": receiver.url + "/all", "secret": SECRET, "events": ["*"]},
            {"url": receiver.url + "/wiki", "secret": SECRET, "events": ["wiki.edit"]},
        ]
    )
    assert queue(store, config) == 2
    assert queue(store, config) == 0
    with store.session() as session:
        assert len(session.scalars(select(OutgoingMessage)).all()) == 2
        assert fan_out(session, event(2, kind="wiki.edit"), config) == 2


def test_matching_of_event_kinds() -> None:
    assert subscriptions.matches(["forum.*"], "forum.post_created")
    assert not subscriptions.matches(["forum.*"], "wiki.edit")
    assert not subscriptions.matches(["forum.*"], "forumx.post")
    assert subscriptions.matches(["*"], "wiki.edit")
    assert subscriptions.matches(["wiki.new", "wiki.edit"], "wiki.edit")
    assert not subscriptions.matches(["wiki.edit"], "wiki.edits")


def test_config_sync_is_idempotent_and_follows_the_file(store: Store, receiver: Receiver) -> None:
    config = subscribe(receiver)
    for _ in range(2):
        with store.session() as session:
            subscriptions.sync_config(session, config)
    with store.session() as session:
        [row] = session.scalars(select(WebhookSubscription)).all()
        assert row.source == "config" and row.active
        subscriptions.sync_config(session, settings())
        assert not row.active and row.disabled_reason == subscriptions.REMOVED_FROM_CONFIG
        subscriptions.sync_config(session, config)
        assert row.active


def test_retries_follow_the_schedule_with_the_same_id_and_a_new_timestamp(
    store: Store, receiver: Receiver
) -> None:
    receiver.script = [(500, {}), (502, {})]
    config = subscribe(receiver)
    queue(store, config)
    assert deliver_due(store, config, now=T0, courier=COURIER) == 1
    assert message(store).next_attempt_at == T0 + timedelta(seconds=5)
    assert deliver_due(store, config, now=T0 + timedelta(seconds=4), courier=COURIER) == 0
    second = T0 + timedelta(seconds=5)
    assert deliver_due(store, config, now=second, courier=COURIER) == 1
    third = second + timedelta(seconds=300)
    assert message(store).next_attempt_at == third
    assert deliver_due(store, config, now=third, courier=COURIER) == 1

    assert message(store).state == "delivered"
    ids = {r.headers["webhook-id"] for r in receiver.received}
    stamps = [r.headers["webhook-timestamp"] for r in receiver.received]
    assert len(ids) == 1
    assert stamps == [str(int(t.timestamp())) for t in (T0, second, third)]
    for request in receiver.received:
        expected = spec_signature(
            SECRET,
            request.headers["webhook-id"],
            request.headers["webhook-timestamp"],
            request.body,
        )
        assert request.headers["webhook-signature"] == expected
    with store.session() as session:
        statuses = [
            a.status for a in session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))
        ]
    assert statuses == [500, 502, 200]


def test_jitter_stays_within_twenty_percent_and_the_schedule_spans_about_a_day() -> None:
    rng = random.Random(7)
    for attempts, base in enumerate(RETRY_DELAYS, start=1):
        for _ in range(50):
            delay = next_delay(attempts, rng)
            assert delay is not None and 0.8 * base <= delay <= 1.2 * base
    assert next_delay(len(RETRY_DELAYS) + 1, rng) is None
    assert 26 * 3600 < sum(RETRY_DELAYS) < 29 * 3600


def test_after_the_last_attempt_the_message_fails_and_can_be_replayed(
    store: Store, receiver: Receiver
) -> None:
    receiver.script = [(500, {})] * delivery.MAX_ATTEMPTS
    config = subscribe(receiver)
    queue(store, config)
    now = T0
    for _ in range(delivery.MAX_ATTEMPTS):
        assert deliver_due(store, config, now=now, courier=COURIER) == 1
        now = message(store).next_attempt_at
    failed = message(store)
    assert failed.state == "failed" and failed.attempts == delivery.MAX_ATTEMPTS
    assert deliver_due(store, config, now=now + timedelta(days=30), courier=COURIER) == 0
    assert now - T0 == timedelta(seconds=sum(RETRY_DELAYS))  # the last wait, then no more

    with store.session() as session:
        assert replay(session, failed.msg_id, now=now)
        assert not replay(session, failed.msg_id, now=now)  # already pending
    assert deliver_due(store, config, now=now, courier=COURIER) == 1
    assert message(store).state == "delivered"
    assert {r.headers["webhook-id"] for r in receiver.received} == {failed.msg_id}


def test_410_disables_the_subscription_and_cancels_its_queue(
    store: Store, receiver: Receiver
) -> None:
    receiver.script = [(410, {})]
    config = subscribe(receiver)
    queue(store, config, 1)
    queue(store, config, 2)
    assert deliver_due(store, config, now=T0, courier=COURIER) == 1
    with store.session() as session:
        states = [
            m.state for m in session.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id))
        ]
        [sub] = session.scalars(select(WebhookSubscription)).all()
        assert not sub.active and "410" in (sub.disabled_reason or "")
    assert states == ["failed", "cancelled"]
    assert queue(store, config, 3) == 0  # a sync from the file does not revive it
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (429, "120", 120),
        (503, "7", 7),
        (503, "999999", delivery.RETRY_AFTER_CAP),
        (429, "Sat, 21 Nov 2026 10:10:00 GMT", 600),
        (503, "soon", 5),  # unreadable: the schedule applies
    ],
)
def test_retry_after_is_honoured_and_capped(
    store: Store, receiver: Receiver, status: int, retry_after: str, wait: int
) -> None:
    receiver.script = [(status, {"Retry-After": retry_after})]
    config = subscribe(receiver)
    queue(store, config)
    deliver_due(store, config, now=T0, courier=COURIER)
    pending = message(store)
    assert pending.state == "pending" and pending.last_status == status
    assert pending.next_attempt_at == T0 + timedelta(seconds=wait)


def test_redirects_are_failures_and_are_not_followed(store: Store, receiver: Receiver) -> None:
    receiver.script = [(302, {"Location": receiver.url + "/elsewhere"})]
    config = subscribe(receiver)
    queue(store, config)
    deliver_due(store, config, now=T0, courier=COURIER)
    assert len(receiver.received) == 1
    pending = message(store)
    assert pending.state == "pending" and pending.last_status == 302
    assert "redirect not followed" in (pending.last_error or "")


def test_a_blocked_destination_is_a_failed_attempt_with_a_generic_message(
    store: Store, receiver: Receiver
) -> None:
    config = subscribe(receiver)
    config["outgoing"]["allow_private_networks"] = False
    queue(store, config)
    assert deliver_due(store, config, now=T0, courier=COURIER) == 1
    assert receiver.received == []
    with store.session() as session:
        [attempt] = session.scalars(select(DeliveryAttempt)).all()
    assert attempt.status is None and attempt.error == "destination not allowed"
    assert message(store).state == "pending"


def test_no_response_is_a_failed_attempt(store: Store, receiver: Receiver) -> None:
    config = subscribe(receiver)
    queue(store, config)
    receiver.stop()  # nothing listens any more: connection refused
    deliver_due(store, config, now=T0, courier=COURIER)
    failed = message(store)
    assert failed.state == "pending" and failed.last_status is None
    assert (failed.last_error or "").startswith("no response")


def test_a_claimed_message_is_not_sent_twice_until_its_lease_expires(
    store: Store, receiver: Receiver
) -> None:
    config = subscribe(receiver)
    queue(store, config)
    lease = T0 + timedelta(seconds=120)
    [message_id] = delivery._candidates(store, T0)
    assert delivery._claim(store, message_id, T0, lease)
    assert not delivery._claim(store, message_id, T0, lease)  # a second worker gets nothing
    assert deliver_due(store, config, now=T0 + timedelta(seconds=60), courier=COURIER) == 0
    # The first worker died: after the lease, another worker takes it over.
    assert deliver_due(store, config, now=lease + timedelta(seconds=1), courier=COURIER) == 1
    assert message(store).state == "delivered"


def test_a_spent_time_budget_leaves_due_messages_for_the_next_cycle(
    store: Store, receiver: Receiver
) -> None:
    config = subscribe(receiver)
    queue(store, config)
    assert deliver_due(store, config, now=T0, courier=COURIER, budget_seconds=0) == 0
    assert message(store).state == "pending" and receiver.received == []
    assert deliver_due(store, config, now=T0, courier=COURIER, budget_seconds=60) == 1
    assert message(store).state == "delivered"
