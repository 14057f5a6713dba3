"""/metrics: token required, Prometheus text, store gauges equal to the real counts, the
shared forum budget, worker timings, platform requests and rate-limit waits counted,
several processes added up."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from community.handling import Handler, HandlerContext
from connectors.discourse import ForumClient
from core import telemetry
from core.errors import ConfigError, NotFound, Unavailable
from core.events import Event
from core.forum_budget import Budget, Limits
from core.forum_budget_ledgers import RedisLedger, budget_for
from core.inbox import record
from core.migrate import upgrade
from core.models import InboxEvent, SyncCursor
from core.store import Store, get_store
from dashboards.models import ApiToken
from sandbox.forum.server import ForumServer
from sandbox.wiki import free_port
from service.app import create_app
from service.cli import worker as worker_command
from service.dispatch import UnknownKind
from service.scrape import INBOX_STATES, StoreCollector, scrape_registry
from service.worker import Worker
from tests.budget_support import PAUSE, SPENT, spend, while_waiting
from tests.clocks import FakeClock, chosen, forum_time
from tests.conftest import SessionForum, SessionWiki
from webhooks.outgoing.models import DeliveryAttempt, OutgoingMessage, WebhookSubscription

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # the fake clock's start


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    """The time of a test that fixes one: for its workers, scrapes and the events it
    records directly (the tests that start processes keep the real clock throughout)."""
    yield from chosen(START)


ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def add_token(store: Store) -> str:
    token = f"cst_{uuid.uuid4().hex}"
    with store.session() as session:
        session.add(
            ApiToken(
                name=f"prometheus-{token[-8:]}",
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
            )
        )
    return token


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client: FlaskClient, token: str) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == CONTENT_TYPE_LATEST
    assert response.headers["Cache-Control"] == "no-store"
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def local(name: str, **labels: str) -> float:
    """This process's count now (the instruments are shared by the whole test run)."""
    return telemetry.LOCAL.get_sample_value(name, labels) or 0.0


def an_event(number: int, kind: str = "forum.post_created") -> Event:
    return Event(
        event_id=f"forum:metrics:{uuid.uuid4().hex[:8]}:{number}",
        kind=kind,
        source="forum",
        subject=f"post:{number}",
        actor="alice",
        occurred_at=START,
        delivery_id=None,
        payload={"n": number},
    )


def add_events(store: Store, states: dict[str, int]) -> None:
    """Record events, then put them in ``states`` (as many of each as asked)."""
    with store.session() as session:
        for state, count in states.items():
            for n in range(count):
                event = an_event(n)
                assert record(session, event)
                session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.event_id == event.event_id)
                    .values(state=state)
                )


# -- the route ---------------------------------------------------------------------------------


def test_metrics_refuse_without_a_valid_token(app: Flask, client: FlaskClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer cst_not-a-token"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic cHJvbTpwcm9t"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="constellate"'
        assert "constellate_" not in response.get_data(as_text=True)
    token = add_token(get_store(app))
    with get_store(app).session() as session:
        session.execute(update(ApiToken).values(revoked=True))
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/metrics").status_code == 405


def test_metrics_show_the_inbox_as_it_is_in_the_store(app: Flask, client: FlaskClient) -> None:
    store = get_store(app)
    add_events(store, {"pending": 3, "claimed": 1, "done": 2, "ignored": 1, "dead": 4})
    samples = scrape(client, add_token(store))
    with store.session() as session:
        real = dict(
            session.execute(select(InboxEvent.state, func.count()).group_by(InboxEvent.state)).all()
        )
    assert real == {"pending": 3, "claimed": 1, "done": 2, "ignored": 1, "dead": 4}
    for state in INBOX_STATES:
        assert value(samples, "constellate_inbox_events", state=state) == real[state]
    assert value(samples, "constellate_store_up") == 1
    for state in ("pending", "delivered", "failed"):
        assert ("constellate_outgoing_messages", frozenset({("state", state)})) in samples
    # The process's own instruments are there too, if with nothing counted yet.
    assert ("constellate_event_latency_seconds_count", frozenset()) in samples


def test_the_store_gauges_on_both_stores(store: Store, clock: FakeClock) -> None:
    collector = StoreCollector(lambda: store)
    add_events(store, {"pending": 2, "done": 1})
    with store.session() as session:  # one became due 5 minutes ago, one is in backoff
        rows = session.scalars(select(InboxEvent).where(InboxEvent.state == "pending")).all()
        rows[0].available_at = START - timedelta(minutes=5)
        rows[1].available_at = START + timedelta(minutes=30)
        hook = WebhookSubscription(
            url="https://receiver.example.org/hook", secret="whsec_x", events=["*"]
        )
        session.add(hook)
        session.flush()
        messages = [
            OutgoingMessage(
                msg_id=f"msg_{state}_{n}",
                subscription_id=hook.id,
                event_id="forum:metrics:1",
                event_kind="forum.post_created",
                body="{}",
                state=state,
            )
            for n, state in enumerate(["pending", "delivered", "delivered", "failed"])
        ]
        session.add_all(messages)
        session.flush()
        for status, age in ((200, 60), (500, 60), (None, 1)):  # minutes before the clock
            session.add(attempt(messages[0].id, status, START - timedelta(minutes=age)))

    def read() -> Samples:
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in collector.collect()
            for sample in family.samples
        }

    first = read()
    assert value(first, "constellate_inbox_events", state="pending") == 2
    assert value(first, "constellate_inbox_events", state="done") == 1
    assert value(first, "constellate_inbox_events", state="dead") == 0
    assert value(first, "constellate_inbox_oldest_pending_seconds") == 300
    assert value(first, "constellate_outgoing_messages", state="delivered") == 2
    assert value(first, "constellate_outgoing_messages", state="in_flight") == 0
    assert value(first, "constellate_outgoing_attempts_total", outcome="delivered") == 1
    assert value(first, "constellate_outgoing_attempts_total", outcome="failed") == 2
    # Older attempts are remembered, newer ones recounted: each is counted exactly once
    # while new ones arrive and recent ones age past the settling time.
    with store.session() as session:
        session.add(attempt(messages[0].id, 204, START - timedelta(minutes=120)))
        session.add(attempt(messages[0].id, 503, START))
    clock.now = START + timedelta(hours=1)
    for _ in range(2):
        again = read()
        assert value(again, "constellate_outgoing_attempts_total", outcome="delivered") == 2
        assert value(again, "constellate_outgoing_attempts_total", outcome="failed") == 3
    assert value(again, "constellate_inbox_oldest_pending_seconds") == 3900


def attempt(message_id: int, status: int | None, when: datetime) -> DeliveryAttempt:
    return DeliveryAttempt(message_id=message_id, attempted_at=when, status=status, duration_ms=5)


def test_an_unreadable_store_still_serves_the_process_counts(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables
    registry = scrape_registry(lambda: store)
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
    }
    assert value(samples, "constellate_store_up") == 0
    assert ("constellate_inbox_events", frozenset({("state", "done")})) not in samples
    assert ("constellate_event_latency_seconds_count", frozenset()) in samples
    store.dispose()


# -- the forum budget --------------------------------------------------------------------------

BUDGET = "constellate_forum_budget_"


def budget_samples(samples: Samples) -> dict[str, Any]:
    """The budget's samples, by name without the prefix (by priority where labelled)."""
    found: dict[str, Any] = {}
    for (name, labels), number in samples.items():
        if name.startswith(BUDGET):
            short = name.removeprefix(BUDGET)
            if labels:
                found.setdefault(short, {})[dict(labels)["priority"]] = number
            else:
                found[short] = number
    return found


def test_metrics_show_the_forum_budget(
    settings: dict[str, dict[str, Any]], clock: FakeClock
) -> None:
    upgrade(settings["store"]["url"])
    app = create_app(settings, clock=clock)  # the fake clock for scrapes and spends alike
    store = get_store(app)
    token = add_token(store)
    client = app.test_client()
    unused = budget_samples(scrape(client, token))
    assert unused == {
        "requests_per_minute": 60,  # the forum's default, half of it Constellate's
        "requests_allowed": 30,
        "requests_used": {"moderator": 0, "sync": 0, "section": 0, "scan": 0},
        "requests_left": 30,
        "waiting": {"moderator": 0, "sync": 0, "section": 0, "scan": 0},
        "rate_limited_total": 0,
        "paused_seconds": 0,
    }

    budget = budget_for(app.config["CONSTELLATE"], store)  # the app's, as its workers'
    spend(budget, SPENT)
    budget.pause(PAUSE)
    during = budget_samples(while_waiting(budget, clock, "sync", lambda: scrape(client, token)))
    assert during == {
        **unused,
        "requests_used": {"moderator": 3, "sync": 2, "section": 1, "scan": 0},
        "requests_left": 24,
        "waiting": {"moderator": 0, "sync": 1, "section": 0, "scan": 0},
        "rate_limited_total": 1,
        "paused_seconds": PAUSE,
    }
    # The pause waited out, the sync request took its place; the 429 stays counted.
    after = budget_samples(scrape(client, token))
    assert after == {
        **unused,
        "requests_used": {"moderator": 3, "sync": 3, "section": 1, "scan": 0},
        "requests_left": 23,
        "rate_limited_total": 1,
    }
    store.dispose()


def test_a_budget_that_cannot_be_read_leaves_the_store_numbers(store: Store) -> None:
    """The budget in a Redis that does not answer: the store's numbers are still served."""
    unanswered = RedisLedger(f"redis://127.0.0.1:{free_port()}/0", "metrics-test")
    registry = scrape_registry(lambda: store, budget=lambda: Budget(unanswered, Limits()))
    names = {family.name for family in registry.collect()}
    assert "constellate_inbox_events" in names
    assert not [name for name in names if name.startswith(BUDGET)]


# -- timings of the worker ---------------------------------------------------------------------


def write_effect(event: Event, context: HandlerContext) -> None:
    context.session.merge(SyncCursor(name=f"effect:{event.event_id}", value=event.subject))


def fail(event: Event, context: HandlerContext) -> None:
    raise ValueError("the handler broke")


def dispatch_table(kind: str) -> tuple[Handler, ...]:
    table: dict[str, tuple[Handler, ...]] = {
        "forum.post_created": (write_effect,),
        "forum.post_edited": (fail,),
        "forum.user_logged_in": (),  # nothing handles it: ignored
    }
    if kind not in table:
        raise UnknownKind(kind)
    return table[kind]


KINDS = (
    "forum.post_created",
    "forum.post_created",
    "forum.post_edited",  # fails
    "forum.user_logged_in",  # ignored
    "forum.no_such_kind",  # dead
)


def test_processing_is_timed_by_outcome(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    store = get_store(app)
    token = add_token(store)
    before = scrape(client, token)
    with store.session() as session:
        for n, kind in enumerate(KINDS):
            assert record(session, an_event(n, kind))
    worker = Worker(
        store,
        app.config["CONSTELLATE"],
        worker_id="metrics-worker",
        clock=clock,
        sleep=lambda _seconds: None,
        jitter=lambda: 0.0,
        handlers_for=dispatch_table,
    )
    while worker.run_once():
        pass
    after = scrape(client, token)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    processed = "constellate_event_processing_seconds_count"
    assert grew(processed, outcome="done") == 2
    assert grew(processed, outcome="failed") == 1  # back to pending, retried later
    assert grew(processed, outcome="ignored") == 1
    assert grew(processed, outcome="dead") == 1
    assert grew("constellate_event_processing_seconds_sum", outcome="done") > 0
    assert grew("constellate_event_latency_seconds_count") == 2  # done ones only
    assert value(after, "constellate_inbox_events", state="done") == 2
    assert value(after, "constellate_inbox_events", state="pending") == 1


# -- platform requests and waits -------------------------------------------------------------


def forum_config(server: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "url": server.url,
        "api_username": server.api_username,
        "api_key": server.api_key,
        "timeout": 10,
        **overrides,
    }


def test_forum_requests_are_counted_by_status(forum: SessionForum) -> None:
    counted = "constellate_platform_requests_total"
    ok, missing = (
        local(counted, platform="forum", status="200"),
        local(counted, platform="forum", status="404"),
    )
    client = ForumClient(forum_config(forum))
    client.ping()
    with pytest.raises(NotFound):
        client.get_topic(987654321)
    assert local(counted, platform="forum", status="200") == ok + 1
    assert local(counted, platform="forum", status="404") == missing + 1
    failed = local(counted, platform="forum", status="error")
    gone = ForumClient({**forum_config(forum), "url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(Unavailable):
        gone.ping()
    assert local(counted, platform="forum", status="error") == failed + 1


def test_wiki_requests_are_counted_by_status(wiki: SessionWiki) -> None:
    counted = "constellate_platform_requests_total"
    ok = local(counted, platform="wiki", status="200")
    wiki.bot().ping()  # one request, no login
    assert local(counted, platform="wiki", status="200") == ok + 1


class FakeTime:
    """The forum sandbox's clock and the client's sleep: sleeping moves the forum's time."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def test_a_forum_429_wait_is_counted() -> None:
    waits = ("constellate_rate_limit_waits_total", {"platform": "forum"})
    waited = ("constellate_rate_limit_wait_seconds_total", {"platform": "forum"})
    limited = ("constellate_platform_requests_total", {"platform": "forum", "status": "429"})
    before = [local(name, **labels) for name, labels in (waits, waited, limited)]
    fake = FakeTime()
    with ForumServer(rate_limit_per_minute=2) as server:
        assert server.forum is not None
        server.forum.clock = fake.now
        client = ForumClient(forum_config(server, rate_limit_wait_budget=120), sleep=fake.sleep)
        with forum_time(fake.now, fake.sleep):
            for _ in range(3):  # the third is refused once, waited out, then answered
                client.ping()
    after = [local(name, **labels) for name, labels in (waits, waited, limited)]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 60, 1]


# -- several processes -------------------------------------------------------------------------

COUNTING_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from core import telemetry
    from core.clock import using

    for _ in range(int(sys.argv[1])):
        telemetry.count_platform_request("wiki", 200)
    telemetry.count_rate_limit_wait("forum", 30)
    received = datetime(2030, 1, 1, tzinfo=UTC)
    with using(lambda: datetime(2030, 1, 1, 0, 0, 2, tzinfo=UTC)), telemetry.processing(received):
        telemetry.settled("done")
    """
)
SCRAPING_CHILD = textwrap.dedent(
    """
    import sys
    from prometheus_client import generate_latest
    from core.store import Store
    from service import scrape

    store = Store(sys.argv[1])
    sys.stdout.write(generate_latest(scrape.scrape_registry(lambda: store)).decode())
    """
)


def child(code: str, *args: str, environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


@pytest.mark.timeout(120)
def test_gunicorn_style_processes_are_added_up(settings: dict[str, Any], tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    environ = {**os.environ, telemetry.MULTIPROC_ENV: str(directory)}
    counting = [child(COUNTING_CHILD, str(n), environ=environ) for n in (3, 4)]
    for process in counting:
        finished(process)
    url = settings["store"]["url"]
    upgrade(url)
    samples = parse(finished(child(SCRAPING_CHILD, url, environ=environ)))
    assert value(samples, "constellate_platform_requests_total", platform="wiki", status="200") == 7
    assert value(samples, "constellate_rate_limit_waits_total", platform="forum") == 2
    assert value(samples, "constellate_rate_limit_wait_seconds_total", platform="forum") == 60
    assert value(samples, "constellate_event_processing_seconds_count", outcome="done") == 2
    assert value(samples, "constellate_event_latency_seconds_count") == 2
    assert value(samples, "constellate_event_latency_seconds_sum") == 4
    assert value(samples, "constellate_store_up") == 1  # the store's numbers, once


def test_a_missing_multiprocess_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"PROMETHEUS_MULTIPROC_DIR: .* is not a directory"):
        telemetry.process_registry(str(tmp_path / "absent"))


# -- the worker command's own endpoint -------------------------------------------------------


@pytest.fixture
def worker_environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    upgrade(url)
    store = Store(url)
    with store.session() as session:
        assert record(session, an_event(1, "forum.no_such_kind"))  # it will end dead
    store.dispose()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONSTELLATE_")}
    environ.pop(telemetry.MULTIPROC_ENV, None)
    yield {
        **environ,
        "CONSTELLATE_SERVICE_SECRET_KEY": "s" * 40,
        "CONSTELLATE_STORE_URL": url,
        "CONSTELLATE_WIKI_URL": f"http://127.0.0.1:{free_port()}",
        "CONSTELLATE_WIKI_USERNAME": "Constellate Bot@constellate",
        "CONSTELLATE_WIKI_PASSWORD": "not-a-real-password",
        "CONSTELLATE_WORKER_EMBEDDED": "false",
    }


@pytest.mark.timeout(120)
def test_the_worker_command_serves_its_metrics(worker_environ: dict[str, str]) -> None:
    port = free_port()
    command = "from service.main import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "worker", "--metrics-port", str(port)],
        cwd=ROOT,
        env=worker_environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    dead = ("constellate_event_processing_seconds_count", frozenset({("outcome", "dead")}))
    samples: Samples = {}
    try:
        deadline = time.monotonic() + 60
        while samples.get(dead) != 1 and process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):  # not listening yet
                samples = parse(requests.get(url, timeout=5).text)
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert samples.get(dead) == 1, err
    # Its own counts only: the store's numbers come from the web service.
    assert ("constellate_store_up", frozenset()) not in samples
    assert process.returncode == 0, err
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)


def test_the_worker_command_says_when_it_cannot_listen(worker_environ: dict[str, str]) -> None:
    taken = free_port()
    server = telemetry.serve(taken)
    try:
        runner = CliRunner(env=worker_environ)
        result = runner.invoke(worker_command, ["--once", "--metrics-port", str(taken)])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code != 0
    assert f"cannot listen on 127.0.0.1:{taken}" in result.output
