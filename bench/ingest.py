"""Ingest: signed Discourse webhooks posted to ``/webhooks/discourse`` under gunicorn (two
workers), against a bare Flask endpoint answering 204 under the same server and the same
load generator, measured in the same run, on SQLite and on PostgreSQL.

Per app: a warm-up, then the throughput (closed loop: each connection sends again as soon
as it is answered) and the latency at a fixed rate (open loop, measured from each
request's due time). Per store: requests per second of both and their ratio, p50/p99 at
the fixed rate, the web processes' peak memory, and the inbox count against the accepted
requests. The service only records events (``worker.embedded = false``): ingest, not
processing. Goals (issue 26): ratio >= 0.5 (aim 0.7), p99 <= 20 ms at 200 requests per
second, peak RSS of master + 2 workers <= 150 MiB; --strict exits 1 when one is missed.

python -m bench ingest [--seconds S] [--connections N] [--keep-alive] [--rate R]
                       [--store sqlite|postgresql|both] [--warmup S] [--max-requests N]
                       [--postgres URL] [--strict]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bench.ingest_load import Figures, Plan
from bench.ingest_report import (
    CONNECTIONS,
    GOAL_P99_MS,
    GOAL_PEAK_MIB,
    GOAL_RATIO,
    POSTGRES_ADMIN_URL,
    RATE,
    SECONDS,
    STORES,
    WARMUP_SECONDS,
    AppRun,
    Options,
    Report,
    StoreRun,
    describe,
    header,
)
from bench.ingest_server import ROOT, Gunicorn
from core.config import ENV_PREFIX
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store

FORUM_URL = "https://forum.example.org"
# Requests prepared per second of a closed-loop phase: well above what two workers on this
# kind of machine answer. A phase that runs out says so, and its rate still holds.
PREPARED_PER_SECOND = 8_000
LOAD_TIMEOUT = 600.0
APPS = {"service": "bench.ingest_apps:service()", "bare": "bench.ingest_apps:bare()"}


# -- stores ----------------------------------------------------------------------------------


@contextmanager
def sqlite_store(folder: Path) -> Iterator[str]:
    url = f"sqlite:///{folder / 'ingest.db'}"
    upgrade(url)
    yield url


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    """A fresh database, migrated, dropped afterwards."""
    name = f"constellate_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            shown = make_url(admin_url).render_as_string(hide_password=True)
            raise RuntimeError(
                f"--postgres {shown}: cannot create a database: {exc.orig}"
            ) from None
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def count_inbox(url: str) -> tuple[int, int]:
    """(events, pending events) in the store's inbox."""
    store = Store(url)
    try:
        with store.session() as session:
            total = session.execute(select(func.count(InboxEvent.id))).scalar_one()
            pending = session.execute(
                select(func.count(InboxEvent.id)).where(InboxEvent.state == "pending")
            ).scalar_one()
    finally:
        store.dispose()
    return int(total), int(pending)


# -- configuration ---------------------------------------------------------------------------


def write_config(folder: Path, store_url: str, webhook_secret: str) -> Path:
    """A config file as a deployment has one; the wiki is named but never called."""
    values: dict[str, dict[str, str | bool]] = {
        "service": {"secret_key": secrets.token_urlsafe(48)},
        "store": {"url": store_url},
        "wiki": {"url": "http://127.0.0.1:9", "username": "Ingest@bench", "password": "unused"},
        "forum": {"url": FORUM_URL, "webhook_secret": webhook_secret},
        "worker": {"embedded": False},
    }
    lines = []
    for section, table in values.items():
        lines.append(f"[{section}]")
        # JSON's strings and booleans are TOML's too.
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    path = folder / "constellate.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    path.chmod(0o600)
    return path


def server_env(config: Path | None) -> dict[str, str]:
    """This environment without any Constellate setting, plus the config file when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    if config is not None:
        env[f"{ENV_PREFIX}CONFIG"] = str(config)
    return env


# -- load ------------------------------------------------------------------------------------


class PostIds:
    """Hands out post ids so that no two requests of a run carry the same post."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int) -> int:
        first, self.next = self.next, self.next + count
        return first


def generate(plan: Plan) -> Figures:
    """Run one phase in the load generator's own process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest_load"],
        input=json.dumps(asdict(plan)).encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=LOAD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr.decode(errors='replace')}")
    return Figures(**json.loads(done.stdout))


def measure(name: str, env: dict[str, str], options: Options, ids: PostIds, secret: str) -> AppRun:
    def plan(mode: str, seconds: float, count: int, port: int) -> Plan:
        return Plan(
            port=port,
            mode=mode,
            seconds=seconds,
            connections=options.connections,
            first_id=ids.take(count),
            count=count,
            secret=secret,
            forum_url=FORUM_URL,
            rate=options.rate,
            keep_alive=options.keep_alive,
        )

    def prepared(seconds: float) -> int:
        count = max(int(PREPARED_PER_SECOND * seconds), options.connections)
        return min(count, options.max_requests) if options.max_requests else count

    with Gunicorn(APPS[name], env) as server:
        warmup = None
        if options.warmup > 0:
            warmup = generate(plan("closed", options.warmup, prepared(options.warmup), server.port))
        cpu = server.cpu_seconds()
        throughput = generate(
            plan("closed", options.seconds, prepared(options.seconds), server.port)
        )
        cores = (server.cpu_seconds() - cpu) / throughput.seconds
        opened = max(round(options.rate * options.seconds), 1)
        latency = generate(plan("open", options.seconds, opened, server.port))
    return AppRun(name, warmup, throughput, latency, server.memory(), cores)


def run_store(store: str, options: Options, echo: Callable[[str], None]) -> StoreRun:
    secret = secrets.token_urlsafe(32)
    ids = PostIds()
    with tempfile.TemporaryDirectory(prefix="constellate-ingest-") as name:
        folder = Path(name)
        fresh = (
            sqlite_store(folder)
            if store == "sqlite"
            else postgres_store(options.postgres_admin_url)
        )
        with fresh as url:
            bare = measure("bare", server_env(None), options, ids, secret)
            config = write_config(folder, url, secret)
            service = measure("service", server_env(config), options, ids, secret)
            inbox, pending = count_inbox(url)
    done = StoreRun(store, bare, service, inbox, pending)
    for line in describe(done, options):
        echo(line)
    return done


def run(options: Options, *, echo: Callable[[str], None] = print) -> Report:
    for line in header(options):
        echo(line)
    report = Report([run_store(store, options, echo) for store in options.stores], options.rate)
    verdict = f"NOT met on {', '.join(report.missed)}" if report.missed else "met"
    echo(
        f"ingest: goals (ratio >= {GOAL_RATIO:g}, p99 <= {GOAL_P99_MS:g} ms, peak RSS <= "
        f"{GOAL_PEAK_MIB:g} MiB) on {', '.join(options.stores)}: {verdict}; "
        + ("requests FAILED or were lost" if report.failed else "every request accepted")
    )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per measured phase")
    parser.add_argument("--connections", type=int, default=CONNECTIONS, help="concurrent senders")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="each sender keeps its connection (Discourse opens one per delivery)",
    )
    parser.add_argument("--rate", type=float, default=RATE, help="requests/s of the latency phase")
    parser.add_argument("--store", choices=(*STORES, "both"), default="both")
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="seconds; 0: none")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="cap on the requests of a closed-loop phase"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES_ADMIN_URL,
        help="a server URL whose role may create databases",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a goal is missed too"
    )
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 3600:
        parser.error(f"--seconds: expected more than 0 and at most 3600, got {args.seconds:g}")
    if not 1 <= args.connections <= 1000:
        parser.error(f"--connections: expected 1 to 1000, got {args.connections}")
    if not 0 < args.rate <= 10_000:
        parser.error(f"--rate: expected more than 0 and at most 10000, got {args.rate:g}")
    if not 0 <= args.warmup <= 600:
        parser.error(f"--warmup: expected 0 to 600 seconds, got {args.warmup:g}")
    if args.max_requests < 0:
        parser.error(f"--max-requests: expected 0 (no cap) or more, got {args.max_requests}")
    options = Options(
        seconds=args.seconds,
        connections=args.connections,
        rate=args.rate,
        warmup=args.warmup,
        stores=STORES if args.store == "both" else (args.store,),
        postgres_admin_url=args.postgres,
        max_requests=args.max_requests,
        keep_alive=args.keep_alive,
    )
    try:
        report = run(options)
    except RuntimeError as exc:  # a server that did not start, a database not made
        sys.exit(f"ingest: {exc}")
    if report.failed or (args.strict and not report.goals_met):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
