"""Workers: leases, retries with backoff, dead letters, echoes, one transaction per event."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from community.handling import Handler, HandlerContext
from core import wakeup
from core.config import Settings, load_config
from core.errors import RateLimited, Unavailable
from core.events import Event
from core.inbox import LAPSED, backoff_seconds, record
from core.migrate import upgrade
from core.models import InboxEvent, SyncCursor
from core.store import Store
from service import worker as worker_module
from service.app import create_app
from service.cli import inbox_group
from service.cli import worker as worker_command
from service.dispatch import UnknownKind
from service.lease_keeper import LeaseKeeper
from service.worker import Worker, wake
from tests.clocks import FakeClock, chosen
from tests.conftest import SessionWiki

# The store fixtures: a SQLite file, and a fresh PostgreSQL database per test.

# Later than any real "now" of these tests: events recorded on the real clock are due
# at the fake clock's start (a date that the real clock reaches would break the tests).
START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
MAX_ATTEMPTS = 3
LEASE = 60


def make_settings(url: str, tmp_path: Path) -> Settings:
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "store": {"url": url},
            "wiki": {
                "url": "http://127.0.0.1:9",
                "username": "Constellate Bot@constellate",
                "password": "not-a-real-password",
            },
            "forum": {"api_username": "bridge"},
            "worker": {"embedded": False, "lease_seconds": LEASE, "max_attempts": MAX_ATTEMPTS},
        },
    )


class Table:
    """A dispatch table for tests: kind -> handlers; anything else is unknown."""

    def __init__(self, **kinds: tuple[Handler, ...]) -> None:
        self.kinds = {kind.replace("_", ".", 1): handlers for kind, handlers in kinds.items()}
        self.calls: list[str] = []

    def __call__(self, kind: str) -> tuple[Handler, ...]:
        self.calls.append(kind)
        if kind not in self.kinds:
            raise UnknownKind(kind)
        return self.kinds[kind]


def write_effect(event: Event, context: HandlerContext) -> None:
    """An idempotent effect keyed by the event."""
    context.session.merge(SyncCursor(name=f"effect:{event.event_id}", value=event.subject))


def fail_with(exc: Exception) -> Handler:
    def handler(event: Event, context: HandlerContext) -> None:
        write_effect(event, context)
        context.session.flush()  # the write reached the database before the failure
        raise exc

    return handler


def an_event(number: int = 1, *, kind: str = "forum.post_created", actor: str = "alice") -> Event:
    return Event(
        event_id=f"forum:test:{number}",
        kind=kind,
        source="forum",
        subject=f"post:{number}",
        actor=actor,
        occurred_at=START,
        delivery_id=None,
        payload={"n": number},
    )


class Rig:
    def __init__(self, url: str, tmp_path: Path, clock: FakeClock) -> None:
        upgrade(url)
        self.store = Store(url)
        self.settings = make_settings(url, tmp_path)
        self.clock = clock

    def worker(self, table: Table, name: str = "w1", jitter: float = 0.0) -> Worker:
        return Worker(
            self.store,
            self.settings,
            worker_id=name,
            clock=self.clock,
            sleep=lambda _seconds: None,
            jitter=lambda: jitter,
            handlers_for=table,
        )

    def add(self, *events: Event) -> None:
        with self.store.session() as session:
            for event in events:
                assert record(session, event)

    def row(self, event_id: str = "forum:test:1") -> InboxEvent:
        with self.store.session() as session:
            return session.scalars(select(InboxEvent).where(InboxEvent.event_id == event_id)).one()

    def effects(self) -> list[str]:
        with self.store.session() as session:
            names = session.scalars(select(SyncCursor.name).where(SyncCursor.name.like("effect:%")))
            return sorted(names)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    """The test's time for the workers, the commands and the events recorded directly."""
    yield from chosen(START)


@pytest.fixture
def rig(sqlite_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Rig]:
    made = Rig(sqlite_url, tmp_path, clock)
    yield made
    made.store.dispose()


@pytest.fixture
def any_rig(store_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Rig]:
    made = Rig(store_url, tmp_path, clock)
    yield made
    made.store.dispose()


def test_an_event_is_handled_and_marked_done_in_one_go(any_rig: Rig) -> None:
    rig = any_rig
    rig.add(an_event())
    worker = rig.worker(Table(forum_post_created=(write_effect,)))
    assert worker.run_once() is True
    row = rig.row()
    assert (row.state, row.attempts, row.processed_at, row.claimed_by) == ("done", 1, START, None)
    assert rig.effects() == ["effect:forum:test:1"]
    assert worker.run_once() is False  # nothing else is due


def test_a_failing_handler_leaves_nothing_and_is_retried_later(any_rig: Rig) -> None:
    rig = any_rig
    rig.add(an_event())
    table = Table(forum_post_created=(fail_with(ValueError("boom")),))
    assert rig.worker(table).run_once() is True
    row = rig.row()
    assert (row.state, row.last_error, row.reason) == ("pending", "ValueError: boom", None)
    assert rig.effects() == []  # the handler's write was rolled back with the failure
    assert row.available_at == START + timedelta(seconds=backoff_seconds(1, jitter=0.0))
    table.kinds["forum.post_created"] = (write_effect,)  # the bug is fixed
    assert rig.worker(table).run_once() is False  # not before its time
    rig.clock.advance(seconds=3600)
    assert rig.worker(table).run_once() is True
    assert rig.row().state == "done" and rig.effects() == ["effect:forum:test:1"]


def test_backoff_grows_with_attempts_and_honours_retry_after(rig: Rig) -> None:
    assert [backoff_seconds(n, jitter=1.0) for n in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert backoff_seconds(2, jitter=0.0) == 5.0  # jitter spreads between half and all
    assert backoff_seconds(40, jitter=1.0) == 3600.0  # capped
    rig.add(an_event())
    limited = RateLimited("slow down", platform="forum", retry_after=600)
    assert rig.worker(Table(forum_post_created=(fail_with(limited),))).run_once()
    row = rig.row()
    assert row.available_at == START + timedelta(seconds=600)
    assert row.last_error == "RateLimited: slow down"
    rig.clock.advance(seconds=599)
    assert rig.worker(Table(forum_post_created=(write_effect,))).run_once() is False
    rig.clock.advance(seconds=1)
    assert rig.worker(Table(forum_post_created=(write_effect,))).run_once() is True


def test_dead_letter_after_max_attempts_with_the_reason(rig: Rig) -> None:
    rig.add(an_event())
    worker = rig.worker(Table(forum_post_created=(fail_with(KeyError("post")),)))
    for _ in range(MAX_ATTEMPTS):
        assert worker.run_once() is True
        rig.clock.advance(seconds=3600)
    row = rig.row()
    assert (row.state, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert row.reason == f"gave up after {MAX_ATTEMPTS} attempts: KeyError: 'post'"
    assert worker.run_once() is False  # dead events stay put
    assert rig.effects() == []


def test_an_unavailable_platform_is_waited_for_then_dead_lettered(rig: Rig) -> None:
    rig.add(an_event())
    down = Unavailable("wiki is down", platform="wiki", retry_after=900)
    worker = rig.worker(Table(forum_post_created=(fail_with(down),)))
    for attempt in range(1, MAX_ATTEMPTS):
        assert worker.run_once() is True
        row = rig.row()
        assert (row.state, row.attempts) == ("pending", attempt)
        assert row.available_at - rig.clock() >= timedelta(seconds=900)  # the wiki's wait
        assert worker.run_once() is False  # not due before that
        rig.clock.advance(seconds=3600)
    assert worker.run_once() is True
    row = rig.row()
    assert (row.state, row.attempts) == ("dead", MAX_ATTEMPTS)
    assert row.reason == f"gave up after {MAX_ATTEMPTS} attempts: Unavailable: wiki is down"
    assert rig.effects() == []  # each failed attempt's writes were rolled back


@pytest.mark.parametrize("actor", ["Constellate Bot", "Constellate_Bot", "bridge", "BRIDGE"])
def test_our_own_changes_are_echoes_and_never_dispatched(rig: Rig, actor: str) -> None:
    rig.add(an_event(actor=actor))
    table = Table(forum_post_created=(write_effect,))
    assert rig.worker(table).run_once() is True
    row = rig.row()
    assert (row.state, row.reason, row.processed_at) == ("ignored", "echo", START)
    assert table.calls == [] and rig.effects() == []


def test_unknown_kinds_are_dead_and_ignored_kinds_ignored(rig: Rig) -> None:
    rig.add(an_event(1, kind="forum.mystery"), an_event(2, kind="forum.user_logged_in"))
    worker = rig.worker(Table(forum_user_logged_in=()))
    assert worker.run_once() and worker.run_once()
    mystery, quiet = rig.row("forum:test:1"), rig.row("forum:test:2")
    assert (mystery.state, mystery.reason) == ("dead", "unknown kind: forum.mystery")
    assert (quiet.state, quiet.reason) == ("ignored", "ignored kind")


def test_an_expired_lease_is_claimed_again_and_the_slow_worker_rolls_back(any_rig: Rig) -> None:
    rig = any_rig
    rig.add(an_event())
    table = Table(forum_post_created=(write_effect,))
    slow, other = rig.worker(table, "slow"), rig.worker(table, "other")
    held = slow.claim()
    assert held is not None and held.attempt == 1 and not held.lapsed
    assert other.claim() is None  # the lease still holds
    rig.clock.advance(seconds=LEASE + 1)
    taken = other.claim()
    assert taken is not None and taken.attempt == 2 and taken.lapsed
    assert rig.row().last_error == LAPSED
    slow.process(held)  # finishes late: its lease is gone, so its work is rolled back
    assert rig.effects() == [] and rig.row().state == "claimed"
    other.process(taken)
    row = rig.row()
    assert (row.state, row.attempts) == ("done", 2)
    assert rig.effects() == ["effect:forum:test:1"]


def lease_of(rig: Rig) -> datetime:
    until = rig.row().lease_until
    assert until is not None
    return until


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = threading.Event()
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        deadline.wait(0.02)
    raise AssertionError("the condition never held")


def test_a_long_handler_keeps_its_lease_and_no_other_worker_takes_it_over(
    any_rig: Rig,
) -> None:
    """A handler that runs for several leases (a full recompute on a slow day) renews its
    lease while it works: another worker never claims it, and it is done once."""
    rig = any_rig
    rig.add(an_event())
    refused: list[bool] = []

    def long_work(event: Event, context: HandlerContext) -> None:
        for _ in range(4):  # 4 x 40 s: past two leases of 60 s
            rig.clock.advance(seconds=40)
            wait_for(lambda: lease_of(rig) > rig.clock())
            refused.append(other.claim() is None)
        write_effect(event, context)

    other = rig.worker(Table(forum_post_created=(write_effect,)), "other")
    assert rig.worker(Table(forum_post_created=(long_work,)), "long").run_once() is True
    assert refused == [True] * 4
    row = rig.row()
    assert (row.state, row.attempts, row.last_error) == ("done", 1, None)
    assert rig.effects() == ["effect:forum:test:1"]


def test_a_hung_handler_is_let_go_after_its_last_lease(rig: Rig) -> None:
    """Renewals stop after a bound: a handler hung for that long is taken over."""
    rig.add(an_event())
    keeper = LeaseKeeper(rig.store, rig.clock, LEASE, check_seconds=0.01, max_leases=2)
    table = Table(forum_post_created=(write_effect,))
    hung, other = rig.worker(table, "hung"), rig.worker(table, "other")
    held = hung.claim()
    assert held is not None
    with keeper.keeping(held):
        rig.clock.advance(seconds=LEASE * 0.75)
        wait_for(lambda: lease_of(rig) > held.lease_until)  # renewed once
        rig.clock.advance(seconds=LEASE * 1.5)  # past the second lease: not renewed
        taken = other.claim()
    assert taken is not None and taken.lapsed


def test_a_worker_keeps_its_platform_clients_from_event_to_event(rig: Rig) -> None:
    """One wiki login per worker, not per event: the same clients serve every event, each
    committing the session of the event it serves before its requests."""
    rig.add(an_event(1), an_event(2))
    seen: list[tuple[object, object, object]] = []

    def use_clients(event: Event, context: HandlerContext) -> None:
        wiki, forum = context.wiki(), context.forum()
        hook = wiki.session.before_request
        assert hook is not None and getattr(forum.session, "before_request", None) == hook
        seen.append((wiki, forum, getattr(hook, "__self__", None)))

    worker = rig.worker(Table(forum_post_created=(use_clients,)))
    assert worker.run_once() and worker.run_once()
    (wiki1, forum1, context1), (wiki2, forum2, context2) = seen
    assert wiki1 is wiki2 and forum1 is forum2
    assert context1 is not context2  # each event's own session is committed


def test_an_event_that_keeps_killing_its_worker_goes_dead(rig: Rig) -> None:
    rig.add(an_event())
    table = Table(forum_post_created=(write_effect,))
    for n in range(MAX_ATTEMPTS):
        assert rig.worker(table, f"doomed{n}").claim() is not None  # and then it "dies"
        rig.clock.advance(seconds=LEASE + 1)
    assert rig.worker(table).run_once() is True
    row = rig.row()
    assert row.state == "dead"
    assert row.reason == f"gave up after {MAX_ATTEMPTS} attempts: {LAPSED}"
    assert table.calls == []


def test_two_workers_never_hold_the_same_event(any_rig: Rig) -> None:
    rig = any_rig
    rig.add(*(an_event(n) for n in range(40)))
    table = Table()
    workers = [rig.worker(table, f"w{n}") for n in range(4)]
    start = threading.Barrier(len(workers))
    claimed: dict[str, list[int]] = {w.worker_id: [] for w in workers}

    def claim_all(worker: Worker) -> None:
        start.wait()
        while (held := worker.claim()) is not None:
            claimed[worker.worker_id].append(held.row_id)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [row_id for ids in claimed.values() for row_id in ids]
    assert len(every) == 40 and len(set(every)) == 40


def test_run_processes_until_stopped_and_wake_ends_an_idle_wait(rig: Rig) -> None:
    rig.add(an_event(1), an_event(2))
    stop = threading.Event()
    idle: list[float] = []

    def sleep(seconds: float) -> None:
        idle.append(seconds)
        stop.set()

    worker = rig.worker(Table(forum_post_created=(write_effect,)))
    worker.sleep = sleep
    worker.run(stop)
    assert rig.effects() == ["effect:forum:test:1", "effect:forum:test:2"]
    assert idle == [rig.settings["worker"]["poll_seconds"]]
    wake()
    wakeup.wait(3600)  # returns at once: it was woken


def test_the_embedded_worker_starts_with_the_first_request(
    settings: dict[str, Any], sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    off = create_app({**settings, "store": {"url": sqlite_url}, "worker": {"embedded": False}})
    off.test_client().get("/healthz")
    assert worker_module.EMBEDDED_KEY not in off.extensions
    app: Flask = create_app(
        {**settings, "store": {"url": sqlite_url}, "worker": {"embedded": True}}
    )
    assert worker_module.EMBEDDED_KEY not in app.extensions  # building it starts nothing
    app.test_client().get("/healthz")
    embedded = app.extensions[worker_module.EMBEDDED_KEY]
    assert embedded.thread.is_alive() and embedded.thread.daemon
    embedded.stop.set()
    wake()
    embedded.thread.join()


@pytest.fixture
def cli(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose commands see the rig's store through the environment."""
    for name in list(os.environ):
        if name.startswith("CONSTELLATE_"):
            monkeypatch.delenv(name)
    environ = {
        "CONSTELLATE_SERVICE_SECRET_KEY": "s" * 40,
        "CONSTELLATE_STORE_URL": rig.settings["store"]["url"],
        "CONSTELLATE_WIKI_URL": "http://127.0.0.1:9",
        "CONSTELLATE_WIKI_USERNAME": "Constellate Bot@constellate",
        "CONSTELLATE_WIKI_PASSWORD": "not-a-real-password",
        "CONSTELLATE_WORKER_EMBEDDED": "false",
    }
    return CliRunner(env=environ)


def test_worker_once_drains_the_inbox(rig: Rig, cli: CliRunner) -> None:
    rig.add(
        an_event(1, actor="Constellate Bot"),
        an_event(2, kind="forum.no_such_kind"),
        an_event(3, actor="constellate_bot"),
    )
    result = cli.invoke(worker_command, ["--once", "--threads", "2"])
    assert result.exit_code == 0, result.output
    states = {n: rig.row(f"forum:test:{n}").state for n in (1, 2, 3)}
    assert states == {1: "ignored", 2: "dead", 3: "ignored"}


def test_inbox_list_shows_a_table_or_json(rig: Rig, cli: CliRunner) -> None:
    rig.add(an_event(1), an_event(2, kind="forum.no_such_kind"))
    rig.worker(Table(forum_post_created=(write_effect,))).run_once()
    rig.worker(Table()).run_once()
    table = cli.invoke(inbox_group, ["list"])
    assert table.exit_code == 0, table.output
    header, *lines = table.output.splitlines()
    assert header.split() == [
        "id", "state", "kind", "subject", "attempts", "last_error", "received",
    ]  # fmt: skip
    assert lines[0].split()[:5] == ["2", "dead", "forum.no_such_kind", "post:2", "1"]
    assert "unknown kind: forum.no_such_kind" in lines[0]
    assert lines[1].split()[:5] == ["1", "done", "forum.post_created", "post:1", "1"]
    dead = cli.invoke(inbox_group, ["list", "--state", "dead", "--json"])
    assert dead.exit_code == 0, dead.output
    rows = [json.loads(line) for line in dead.output.splitlines()]
    assert [(r["id"], r["state"], r["reason"]) for r in rows] == [
        (2, "dead", "unknown kind: forum.no_such_kind")
    ]


def test_retry_and_replay_put_events_back_to_pending(rig: Rig, cli: CliRunner) -> None:
    rig.add(an_event(1), an_event(2, kind="forum.no_such_kind"))
    rig.worker(Table(forum_post_created=(write_effect,))).run_once()
    rig.worker(Table()).run_once()
    retried = cli.invoke(inbox_group, ["retry", "2"])
    replayed = cli.invoke(inbox_group, ["replay", "1"])
    assert retried.exit_code == 0, retried.output
    assert "inbox event 2 (forum.no_such_kind) retried" in retried.output
    again = rig.row("forum:test:2")
    assert (again.state, again.attempts, again.reason) == ("pending", 0, None)
    assert replayed.exit_code == 0, replayed.output
    row = rig.row("forum:test:1")
    assert (row.state, row.attempts, row.processed_at) == ("pending", 0, None)
    worker = rig.worker(Table(forum_post_created=(write_effect,)))
    assert worker.run_once() and worker.run_once() and not worker.run_once()
    assert rig.row("forum:test:1").state == "done"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retry", "999"], "Error: no inbox event with id 999"),
        (["replay", "999"], "Error: no inbox event with id 999"),
        (["replay", "1"], "Error: inbox event 1 is pending; only done events replay"),
        (["retry", "1"], "Error: inbox event 1 is pending and has not failed"),
    ],
)
def test_inbox_commands_explain_a_wrong_id_in_one_line(
    rig: Rig, cli: CliRunner, args: list[str], message: str
) -> None:
    rig.add(an_event(1))
    result = cli.invoke(inbox_group, args)
    assert result.exit_code == 1
    assert result.output.strip() == message


def test_a_service_worker_reads_the_real_wiki_on_its_schedule(rig: Rig, wiki: SessionWiki) -> None:
    rig.settings["wiki"] = wiki.config()
    rig.settings["worker"]["wiki_poll_seconds"] = 30
    worker = Worker(
        rig.store,
        rig.settings,
        clock=rig.clock,
        sleep=lambda _seconds: None,
        handlers_for=Table(wiki_new=(write_effect,)),
        poll_platforms=True,
    )

    def wiki_rows() -> list[InboxEvent]:
        with rig.store.session() as session:
            return list(session.scalars(select(InboxEvent).where(InboxEvent.source == "wiki")))

    worker.run_once()  # the first poll only sets the cursor to "now"
    title = wiki.title("Scheduled poll")
    wiki.human().edit(title, "A page made between two polls.", summary="new", mode="create")
    worker.run_once()
    assert wiki_rows() == []  # not due yet
    rig.clock.advance(seconds=31)
    worker.run_once()
    [row] = wiki_rows()
    assert (row.kind, row.subject, row.actor) == (
        "wiki.new",
        f"page:{title}",
        wiki.sandbox.human_username,
    )
    assert row.state == "done"
    assert rig.effects() == [f"effect:{row.event_id}"]
