"""The service's own commands (check-config, db, worker, inbox) and the list of every
command, which `constellate` (service/main.py) and `flask --app service.app` both offer."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import click
from flask import Flask

from community.backfill.cli import backfill
from community.constellations.cli import sync
from community.credits.cli import credits_group, people_group
from community.health.cli import health
from community.partners.cli import partners
from community.practices.cli import practices
from core import clock, inbox, migrate, telemetry
from core.command_context import configured_store
from core.config import CONFIG_PATH_VAR, load_config, masked
from core.models import InboxEvent
from dashboards.cli import api_token
from sandbox.cli import sandbox
from service.worker import Worker, wake
from webhooks.automations.cli import rules
from webhooks.incoming.cli import poll
from webhooks.outgoing.cli import outgoing


@click.command("check-config")
def check_config() -> None:
    """Print the effective configuration, secrets masked; fail on an invalid one."""
    settings = load_config()
    click.echo(json.dumps(masked(settings), indent=2, sort_keys=True))
    source = os.environ.get(CONFIG_PATH_VAR) or "defaults and environment only"
    click.echo(f"configuration valid ({source})", err=True)


@click.group("db")
def db() -> None:
    """The store's schema: migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = load_config()["store"]["url"]
    migrate.upgrade(url, revision)
    click.echo(f"store at revision {migrate.current_revision(url)}")


@db.command("current")
def db_current() -> None:
    """Print the store's revision and the newest one available."""
    url = load_config()["store"]["url"]
    click.echo(f"current: {migrate.current_revision(url)}  head: {migrate.head_revision()}")


STATES = ("pending", "claimed", "done", "ignored", "dead")


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--once", is_flag=True, help="process every event that is due, then exit")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="serve Prometheus metrics")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="for --metrics-port")
def worker(threads: int, once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Process inbox events (SIGTERM or Ctrl-C finishes the events in hand, then exits)."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: finishing the events in hand", err=True)
        stop.set()
        wake()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with configured_store() as (settings, store), telemetry.serving(metrics_port, metrics_host):
            # One of them also reads the platforms' changes on schedule.
            workers = [Worker(store, settings, poll_platforms=n == 0) for n in range(threads)]
            target = _drain if once else Worker.run
            pool = [threading.Thread(target=target, args=(w, stop)) for w in workers]
            for thread in pool:
                thread.start()
            for thread in pool:
                while thread.is_alive():  # join in slices so signals reach this thread
                    thread.join(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drain(one: Worker, stop: threading.Event) -> None:
    while not stop.is_set() and one.run_once():
        pass


@click.group("inbox")
def inbox_group() -> None:
    """Incoming events: list them, retry dead ones, replay done ones."""


@inbox_group.command("list")
@click.option("--state", type=click.Choice(STATES), help="only events in this state")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON lines instead of a table")
def inbox_list(state: str | None, limit: int, as_json: bool) -> None:
    """The newest events first."""
    with configured_store() as (_settings, store), store.session() as session:
        rows = inbox.listing(session, state=state, limit=limit)
        if as_json:
            for row in rows:
                click.echo(json.dumps(_as_dict(row), sort_keys=True))
            return
        click.echo(_table(rows))


def _as_dict(row: InboxEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_id": row.event_id,
        "state": row.state,
        "kind": row.kind,
        "subject": row.subject,
        "actor": row.actor,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "reason": row.reason,
        "received_at": row.received_at.isoformat(),
        "available_at": row.available_at.isoformat(),
        "processed_at": row.processed_at.isoformat() if row.processed_at else None,
    }


def _table(rows: list[InboxEvent]) -> str:
    header = ("id", "state", "kind", "subject", "attempts", "last_error", "received")
    lines = [
        (
            str(row.id),
            row.state,
            row.kind,
            _clip(row.subject, 40),
            str(row.attempts),
            _clip(row.last_error or row.reason or "", 60),  # why it failed or was set aside
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in (header, *lines)
    )


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _requeue(operation: Callable[..., InboxEvent], row_id: int, verb: str) -> None:
    with configured_store() as (_settings, store):
        try:
            with store.session() as session:
                row = operation(session, row_id, now=clock.now())
                kind = row.kind
        except inbox.NoSuchEvent as exc:
            raise click.ClickException(str(exc)) from None
    wake()
    click.echo(f"inbox event {row_id} ({kind}) {verb}: pending again")


@inbox_group.command("retry")
@click.argument("row_id", metavar="ID", type=int)
def inbox_retry(row_id: int) -> None:
    """Put a dead or failed event back to pending, its attempts reset."""
    _requeue(inbox.retry, row_id, "retried")


@inbox_group.command("replay")
@click.argument("row_id", metavar="ID", type=int)
def inbox_replay(row_id: int) -> None:
    """Run a done event again (its handlers are idempotent)."""
    _requeue(inbox.replay, row_id, "replayed")


COMMANDS = (
    check_config,
    db,
    sandbox,
    worker,
    inbox_group,
    poll,
    outgoing,
    sync,
    partners,
    practices,
    backfill,
    credits_group,
    people_group,
    health,
    rules,
    api_token,
)


def init_app(app: Flask) -> None:
    """Make the commands available as `flask --app service.app <command>` too."""
    for command in COMMANDS:
        app.cli.add_command(command)
