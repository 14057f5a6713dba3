"""The ingest benchmark keeps working at a tiny size: real gunicorn, real SQLite, a few
hundred signed webhooks; its report has every figure and the inbox holds every accepted
request. No timing is asserted: only the shape of the report and what was recorded."""

from __future__ import annotations

import pytest

from bench import ingest
from bench.ingest_load import Figures
from bench.ingest_report import AppRun, Options, StoreRun, describe
from bench.ingest_server import Memory

RATE = 100.0
CAP = 150  # requests prepared per closed-loop phase


@pytest.mark.timeout(180)
def test_a_small_run_reports_its_figures_and_loses_nothing() -> None:
    printed: list[str] = []
    options = ingest.Options(
        seconds=1.0, connections=4, rate=RATE, warmup=0.2, stores=("sqlite",), max_requests=CAP
    )

    report = ingest.run(options, echo=printed.append)

    [done] = report.runs
    assert done.store == "sqlite" and not report.failed
    for app, accepted in ((done.service, "202"), (done.bare, "204")):
        assert app.failures == {}, app.name
        assert 0 < app.throughput.answered <= CAP
        assert app.latency.statuses == {accepted: int(RATE)}  # every offered request, answered
        assert 0 < app.latency.p50_ms <= app.latency.p99_ms <= app.latency.max_ms
        assert app.rps > 0 and app.server_cores > 0 and app.generator_share > 0
        assert app.memory.processes == 3  # the master and two workers
        assert 0 < app.memory.largest_worker_kib < app.memory.total_kib
    # Every 202 is a row in the inbox, and nothing processed them.
    assert done.inbox == done.pending == done.service.accepted
    assert done.service.accepted == sum(f.answered for f in done.service.phases)
    assert done.ratio == done.service.rps / done.bare.rps

    text = "\n".join(printed)
    assert "worker.embedded = false" in text and "--workers=2 --worker-class=gthread" in text
    assert "ingest on sqlite" in text and "ingest on postgresql" not in text
    rows = {line.split()[0]: line.split() for line in printed if line.startswith("  service ")}
    rows |= {line.split()[0]: line.split() for line in printed if line.startswith("  bare ")}
    assert set(rows) == {"service", "bare"} and all(len(row) == 9 for row in rows.values())
    assert "peak MiB" in text and "worker MiB" in text and "p99 ms" in text
    assert f"ratio service/bare = {done.ratio:.2f}" in text
    assert f"goal: p99 at {RATE:g} req/s <= 20 ms: {done.service.latency.p99_ms:.1f}: " in text
    assert f"goal: throughput >= 0.5 x bare: {done.ratio:.2f}: " in text
    assert "goal: peak RSS of master + 2 workers <= 150 MiB: " in text
    assert "goal: accepted requests missing from the inbox = 0: 0.0: met" in text
    assert (
        f"inbox: {done.inbox:,} events for {done.inbox:,} accepted requests (nothing lost)" in text
    )
    assert printed[-1].startswith("ingest: goals") and printed[-1].endswith(
        "every request accepted"
    )


def _app(name: str, statuses: dict[str, int], errors: dict[str, int] | None = None) -> AppRun:
    answered = sum(statuses.values())
    figures = Figures(answered, answered, statuses, errors or {}, seconds=1.0, cpu_seconds=0.1)
    memory = Memory(total_kib=3, largest_worker_kib=1, master_kib=1, processes=3)
    return AppRun(name, None, figures, figures, memory, server_cores=1.0)


def test_a_refused_or_unanswered_request_or_a_lost_event_fails_the_run() -> None:
    bare = _app("bare", {"204": 10})
    good = StoreRun("sqlite", bare, _app("service", {"202": 10}), inbox=20, pending=20)
    assert not good.failed and good.service.accepted == 20

    refused = StoreRun("sqlite", bare, _app("service", {"202": 9, "401": 1}), 18, 18)
    assert refused.failed and refused.service.failures == {"401": 2}
    duplicate = StoreRun("sqlite", bare, _app("service", {"202": 9, "200": 1}), 18, 18)
    assert duplicate.failed  # a 200 is a duplicate: the run's post ids were not distinct
    timeout = _app("bare", {"204": 9}, {"TimeoutError": 1})
    unanswered = StoreRun("sqlite", timeout, _app("service", {"202": 10}), 20, 20)
    assert unanswered.failed and unanswered.bare.failures == {"TimeoutError": 2}
    lost = StoreRun("sqlite", bare, _app("service", {"202": 10}), inbox=19, pending=19)
    assert lost.failed
    assert any("MISMATCH: -1" in line for line in describe(lost, Options()))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seconds", "0"], "--seconds: expected more than 0"),
        (["--connections", "0"], "--connections: expected 1 to 1000, got 0"),
        (["--rate", "-5"], "--rate: expected more than 0"),
        (["--store", "mysql"], "invalid choice: 'mysql'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        ingest.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_each_goal_is_judged_and_printed_met_or_missed() -> None:
    slow = _app("service", {"202": 4})
    run = StoreRun("sqlite", _app("bare", {"204": 10}), slow, inbox=8, pending=8)
    goals = {goal.name: goal for goal in run.goals(RATE)}
    assert not goals["throughput >= 0.5 x bare"].met  # 4 of 10 requests a second
    assert goals["peak RSS of master + 2 workers <= 150 MiB"].met  # 3 KiB
    assert goals["accepted requests missing from the inbox = 0"].met
    report = ingest.Report([run], RATE)
    assert not report.goals_met
    lines = describe(run, Options(rate=RATE))
    assert "  goal: throughput >= 0.5 x bare: 0.40: MISSED" in lines
