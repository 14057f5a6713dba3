"""Acceptance: scaled out on PostgreSQL and Redis, 2 web processes and 3 worker
processes take 10,000 signed webhooks sent fast; one worker is killed with SIGKILL while
it holds events; every event is processed, every effect happens once, nothing stays
claimed, and SIGTERM ends the rest cleanly."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import and_, distinct, func, or_, select

from community.activity import ForumPostActivity
from community.credits.models import CreditEntry, CreditTotal
from core import clock
from core.inbox import LAPSED
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from tests.conftest import SessionForum
from tests.scale import cluster
from webhooks.outgoing.models import OutgoingMessage

EVENTS = 10_000
SENDERS = 16
TOPICS = 100
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]


@pytest.fixture
def receiver() -> Iterator[cluster.Receiver]:
    made = cluster.start_receiver()
    yield made
    made.stop()


def send_all(base_url: str, forum_url: str, topics: list[int], numbers: range) -> list[int]:
    """Post every event from SENDERS threads, a new connection for each as Discourse's
    emitter does (a kept-alive one may be closed by the server as it is reused: gunicorn's
    threaded workers end idle connections); the statuses."""

    def send(number: int) -> int:
        raw, headers = cluster.webhook(forum_url, topics, number)
        response = requests.post(
            f"{base_url}/webhooks/discourse", data=raw, headers=headers, timeout=30
        )
        return response.status_code

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(send, numbers))


def holder_of_claims(store: Store, pid: int) -> list[int]:
    """The inbox rows a worker process holds now (worker ids carry the process id)."""
    with store.session() as session:
        return list(
            session.scalars(
                select(InboxEvent.id).where(
                    InboxEvent.state == "claimed", InboxEvent.claimed_by.like(f"%:{pid}:%")
                )
            )
        )


def unfinished(store: Store) -> list[tuple[str, str, str | None]]:
    """Webhook events not done, and any event left pending, claimed or dead (the events
    the service raises itself, such as health alerts, may be ignored: no rule wants them;
    work asked for a later interval, such as the next badges run, is not due yet)."""
    later = and_(
        InboxEvent.state == "pending",
        InboxEvent.source == "schedule",
        InboxEvent.available_at > clock.now(),
        InboxEvent.last_error.is_(None),
    )
    with store.session() as session:
        rows = session.execute(
            select(InboxEvent.kind, InboxEvent.state, InboxEvent.reason).where(
                or_(
                    and_(InboxEvent.source == "forum", InboxEvent.state != "done"),
                    and_(InboxEvent.state.in_(("pending", "claimed", "dead")), ~later),
                )
            )
        )
        return [(kind, state, reason) for kind, state, reason in rows]


def webhook_events_done(store: Store) -> int:
    with store.session() as session:
        done = select(func.count()).where(InboxEvent.source == "forum", InboxEvent.state == "done")
        return int(session.scalar(done) or 0)


def outgoing_left(store: Store) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutgoingMessage)
                .where(OutgoingMessage.state != "delivered")
            )
            or 0
        )


def test_ten_thousand_events_through_two_web_and_three_worker_processes(
    postgres_url: str,
    redis_url: str,
    forum: SessionForum,
    receiver: cluster.Receiver,
    tmp_path: Path,
) -> None:
    # The topics the replies go to: the candidate check reads them from the forum.
    topics = [
        int(
            forum.client().create_post(
                f"Opening post of topic {n}.", title=forum.name("Scale topic ")
            )["topic_id"]
        )
        for n in range(TOPICS)
    ]
    upgrade(postgres_url)  # the operator migrates once, before starting processes
    config = tmp_path / "constellate.toml"
    access = cluster.ForumAccess(forum.url, forum.api_username, forum.api_key)
    config.write_text(cluster.toml_config(postgres_url, redis_url, access, receiver.url), "utf-8")
    log = tmp_path / "processes.log"
    port = cluster.free_port()
    base_url = f"http://127.0.0.1:{port}"
    web = cluster.start_web(config, port, workers=2, log=log)
    workers = [cluster.start_worker(config, threads=2, log=log) for _ in range(3)]
    store = Store(postgres_url)
    try:
        cluster.wait_until_serving(base_url, web)
        sending = ThreadPoolExecutor(1).submit(send_all, base_url, forum.url, topics, range(EVENTS))

        # Kill one worker while it holds events, as a machine that loses power would.
        doomed = workers[0]
        deadline = time.monotonic() + 300
        while not (held := holder_of_claims(store, doomed.pid)):
            assert time.monotonic() < deadline, f"worker {doomed.pid} never held an event"
            time.sleep(0.005)
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait() == -signal.SIGKILL
        in_hand = holder_of_claims(store, doomed.pid)  # what it held when it died

        statuses = sending.result()
        assert set(statuses) == {202}, f"refused or failed: {sorted(set(statuses))}"

        # Done when every webhook is and nothing is left: the posts also ask for a badges
        # run soon, which may still be running when the last webhook is done.
        deadline = time.monotonic() + 600  # a guard against a stalled cluster
        while webhook_events_done(store) < EVENTS or outgoing_left(store) or unfinished(store):
            assert time.monotonic() < deadline, f"stalled: {unfinished(store)[:5]}, log {log}"
            assert all(w.poll() is None for w in workers[1:]), f"a worker died; log in {log}"
            time.sleep(0.5)

        assert webhook_events_done(store) == EVENTS
        with store.session() as session:
            # The events the killed worker held were taken over after their lease and
            # finished by another worker: a second attempt, the lapse recorded.
            if in_hand:
                retaken = session.scalars(
                    select(InboxEvent).where(InboxEvent.id.in_(in_hand))
                ).all()
                assert all(r.attempts == 2 and r.last_error == LAPSED for r in retaken)
            assert held  # it held at least one event moments before it died
            assert (session.scalar(select(func.max(InboxEvent.attempts))) or 0) <= 2

            # Every effect exactly once: an activity row per reply, a credit (the reply's
            # or the like's) and an outgoing message per event; the totals agree.
            replies = EVENTS // cluster.REPLY_EVERY
            assert session.scalar(select(func.count()).select_from(ForumPostActivity)) == replies
            ledger = session.execute(
                select(func.count(), func.count(distinct(CreditEntry.entry_key)))
            ).one()
            assert tuple(ledger) == (EVENTS, EVENTS)
            assert session.scalar(select(func.sum(CreditTotal.entries))) == EVENTS
            messages = session.scalar(select(func.count()).select_from(OutgoingMessage))
            assert messages == EVENTS

            # The automation received every message. A worker killed mid-delivery may
            # have sent one twice, under the same webhook-id (receivers deduplicate on
            # it): only a message attempted again can have arrived again.
            assert len(receiver.seen) == EVENTS
            twice = {msg_id: n for msg_id, n in receiver.seen.items() if n > 1}
            attempts = dict(
                session.execute(
                    select(OutgoingMessage.msg_id, OutgoingMessage.attempts).where(
                        OutgoingMessage.msg_id.in_(twice)
                    )
                ).all()
            )
            assert all(attempts[msg_id] >= n for msg_id, n in twice.items())

        # SIGTERM: the surviving workers finish what they hold and exit cleanly.
        for survivor in workers[1:]:
            assert cluster.stop(survivor) == 0
        assert unfinished(store) == []
    finally:
        for process in [web, *workers]:
            cluster.stop(process)
        store.dispose()
