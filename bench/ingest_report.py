"""The ingest benchmark's results and how they are printed: per store a table of both
apps, the ratio and p99 against the aims, the inbox against the accepted requests, and
notes where a figure may be the load generator's rather than the server's."""

from __future__ import annotations

from dataclasses import dataclass

from bench.goals import Goal
from bench.ingest_load import EVENT, Figures
from bench.ingest_server import WORKERS, Memory
from service.server_options import GUNICORN_OPTIONS

# Issue 26's goals, per store: throughput against the bare endpoint measured in the same
# run (0.7 is the aim beyond the goal), the p99 at RATE, and the web processes' memory.
GOAL_RATIO = 0.5
AIM_RATIO = 0.7
GOAL_P99_MS = 20.0
GOAL_PEAK_MIB = 150.0
SECONDS = 10.0
CONNECTIONS = 16
RATE = 200.0
WARMUP_SECONDS = 1.0
GENERATOR_BUSY = 0.8  # of one core: above this, the generator may be the limit
POSTGRES_ADMIN_URL = "postgresql+psycopg://constellate:constellate@127.0.0.1:5432/postgres"
STORES = ("sqlite", "postgresql")
ACCEPTED = {"service": "202", "bare": "204"}  # the answer each app gives a good request


@dataclass(frozen=True)
class Options:
    seconds: float = SECONDS
    connections: int = CONNECTIONS
    rate: float = RATE
    warmup: float = WARMUP_SECONDS
    stores: tuple[str, ...] = STORES
    postgres_admin_url: str = POSTGRES_ADMIN_URL
    max_requests: int = 0  # cap on the requests prepared per throughput phase; 0: no cap
    keep_alive: bool = False  # a connection per sender, not per request (Discourse's way)


@dataclass
class AppRun:
    """One app under load: the three phases, its memory and its CPU while saturated."""

    name: str
    warmup: Figures | None
    throughput: Figures
    latency: Figures
    memory: Memory
    server_cores: float  # CPU of master + workers during the throughput phase

    @property
    def phases(self) -> list[Figures]:
        return [f for f in (self.warmup, self.throughput, self.latency) if f is not None]

    @property
    def rps(self) -> float:
        """Accepted requests per second in the throughput phase (refusals do not count)."""
        return self.throughput.statuses.get(ACCEPTED[self.name], 0) / self.throughput.seconds

    @property
    def accepted(self) -> int:
        return sum(f.statuses.get(ACCEPTED[self.name], 0) for f in self.phases)

    @property
    def failures(self) -> dict[str, int]:
        """Answers other than the expected one, and requests that got no answer."""
        found: dict[str, int] = {}
        for phase in self.phases:
            for status, count in (phase.statuses | phase.errors).items():
                if status != ACCEPTED[self.name]:
                    found[status] = found.get(status, 0) + count
        return found

    @property
    def generator_share(self) -> float:
        return self.throughput.cpu_seconds / self.throughput.seconds


@dataclass
class StoreRun:
    store: str
    bare: AppRun
    service: AppRun
    inbox: int  # events in the inbox afterwards
    pending: int  # of those, still pending (nothing processes them)

    @property
    def ratio(self) -> float:
        return self.service.rps / self.bare.rps if self.bare.rps else 0.0

    def goals(self, rate: float) -> list[Goal]:
        return [
            Goal(f"throughput >= {GOAL_RATIO:g} x bare", self.ratio, GOAL_RATIO, at_least=True),
            Goal(
                f"p99 at {rate:g} req/s <= {GOAL_P99_MS:g} ms",
                self.service.latency.p99_ms,
                GOAL_P99_MS,
            ),
            Goal(
                f"peak RSS of master + {WORKERS} workers <= {GOAL_PEAK_MIB:g} MiB",
                self.service.memory.total_kib / 1024,
                GOAL_PEAK_MIB,
            ),
            Goal("accepted requests missing from the inbox = 0", self.missing, 0),
        ]

    @property
    def missing(self) -> int:
        return max(0, self.service.accepted - self.inbox)

    @property
    def failed(self) -> bool:
        """A request was refused or lost, or the inbox does not hold exactly the accepted."""
        return bool(self.bare.failures or self.service.failures) or (
            self.inbox != self.service.accepted
        )


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def describe(done: StoreRun, options: Options) -> list[str]:
    lines = [
        f"ingest on {done.store} (a fresh store, migrated): requests/s from the closed loop; "
        f"p50/p99/max at {options.rate:g} req/s",
        f"  {'app':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'peak MiB':>9} {'worker MiB':>11} {'server CPU':>11} {'load CPU':>9}",
    ]
    for app in (done.service, done.bare):
        lines.append(
            f"  {app.name:<8} {app.rps:>8.0f} {app.latency.p50_ms:>8.1f}"
            f" {app.latency.p99_ms:>8.1f} {app.latency.max_ms:>8.1f}"
            f" {mib(app.memory.total_kib):>9} {mib(app.memory.largest_worker_kib):>11}"
            f" {app.server_cores:>10.2f}c {app.generator_share:>8.0%}"
        )
    aim = "reached" if done.ratio >= AIM_RATIO else "not reached"
    lines.append(
        f"  ratio service/bare = {done.ratio:.2f} (aim {AIM_RATIO:g}: {aim}); service peak RSS "
        f"{mib(done.service.memory.total_kib)} MiB = master {mib(done.service.memory.master_kib)}"
        f" + workers (bare: {mib(done.bare.memory.total_kib)} MiB)"
    )
    for goal in done.goals(options.rate):
        shown = f"{goal.value:.2f}" if goal.limit < 10 and goal.limit else f"{goal.value:.1f}"
        lines.append(f"  goal: {goal.name}: {shown}: {'met' if goal.met else 'MISSED'}")
    lines += [
        f"  inbox: {done.inbox:,} events for {done.service.accepted:,} accepted requests "
        + (
            "(nothing lost)"
            if done.inbox == done.service.accepted
            else f"(MISMATCH: {done.inbox - done.service.accepted:+,})"
        )
        + f"; {done.pending:,} pending",
    ]
    for app in (done.service, done.bare):
        if app.failures:
            shown = ", ".join(f"{k} x {v}" for k, v in sorted(app.failures.items()))
            lines.append(f"  FAILED requests to {app.name}: {shown}")
        lines += [f"  note: {note}" for note in generator_notes(app, options)]
    return lines


def generator_notes(app: AppRun, options: Options) -> list[str]:
    """Where the figures may be the load generator's, not the server's."""
    notes = []
    if app.generator_share > GENERATOR_BUSY:
        notes.append(
            f"{app.name}: the load generator used {app.generator_share:.0%} of a core: "
            "it may have been the limit"
        )
    if app.throughput.exhausted:
        notes.append(
            f"{app.name}: the {app.throughput.answered:,} prepared requests ran out after "
            f"{app.throughput.seconds:.1f} s (the rate holds; --max-requests or "
            "PREPARED_PER_SECOND sets how many)"
        )
    achieved = app.latency.answered / app.latency.seconds
    if achieved < 0.95 * options.rate:
        notes.append(
            f"{app.name}: answered {achieved:.0f} of the {options.rate:g} req/s offered; "
            f"requests waited for a free connection (send lag p99 "
            f"{app.latency.send_lag_p99_ms:.0f} ms), which their latency includes"
        )
    return notes


def header(options: Options) -> list[str]:
    senders = "keep-alive connections" if options.keep_alive else "a connection per request"
    return [
        f"ingest: signed Discourse {EVENT} webhooks (a new post each) to POST "
        f"/webhooks/discourse; gunicorn --workers={WORKERS} {' '.join(GUNICORN_OPTIONS)}; "
        f"reference: a bare Flask endpoint answering 204 under the same server and load",
        "  ingest only: worker.embedded = false, so events are checked and recorded in the "
        "inbox, not processed",
        f"  per app: {options.warmup:g} s warm-up; throughput with {options.connections} "
        f"senders ({senders}) for {options.seconds:g} s (closed loop); latency at "
        f"{options.rate:g} req/s for {options.seconds:g} s (open loop, from each due time); "
        "memory: peak RSS of master + workers (sum of each one's peak); CPU in cores "
        "(load CPU: the generator's share of one core)",
    ]


@dataclass
class Report:
    runs: list[StoreRun]
    rate: float = RATE

    @property
    def failed(self) -> bool:
        return any(done.failed for done in self.runs)

    @property
    def missed(self) -> list[str]:
        """The stores where a goal was missed."""
        return [done.store for done in self.runs if not all(g.met for g in done.goals(self.rate))]

    @property
    def goals_met(self) -> bool:
        return not self.missed
