"""The forum budget benchmark keeps working at a tiny size (a real wiki, the forum sandbox
at Discourse's 60 a minute, the service on a compressed clock): it prints every figure
and every goal, and ``--strict`` exits 1 exactly when a goal is missed. No figure is
asserted against its goal here: that is what the benchmark itself is for."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bench import forum_budget
from bench.forum_budget import DayFigures, Options, Report, SyncFigures
from tests.bench.strict_support import exit_code_of

TINY = Options(pages=6, constellations=2, events=40, hours=0.5, factor=120.0)


@pytest.mark.timeout(300)
def test_a_tiny_run_prints_every_figure_and_goal() -> None:
    printed: list[str] = []

    report = forum_budget.run(TINY, echo=printed.append)

    assert report.sync.pages == 6 and report.sync.requests > 0 and report.sync.minutes > 0
    day = report.day
    assert day.events == sum(day.done.values()) == 40
    assert day.webhooks >= 40  # a new topic sends two
    assert day.lags and day.minutes >= 30
    assert "dead" not in day.states  # everything delivered was handled
    text = "\n".join(printed)
    for figure in (
        "initial full sync of 6 constellations",
        f"floor {report.sync.requests} / 30 a minute",
        f"ratio {report.sync.ratio:.3f}",
        "busy day: 40 forum events over 0.5 h in 2 constellations",
        f"forum requests: work {day.work_total} ({day.work_total / 40:.3f} per forum event)",
        f"safety-net poll (/posts.json) {day.poll}",
        f"429s received: {day.rate_limited}",
        f"peak inbox backlog {day.peak_backlog} events due",
        "post -> wiki section p50",
        "so each real second the wiki takes counts 120 s",
    ):
        assert figure in text
    goals = [line.strip() for line in printed if line.strip().startswith("goal:")]
    assert [line.removeprefix("goal: ").split(":")[0] for line in goals] == [
        goal.name for goal in report.goals()
    ]
    for line, goal in zip(goals, report.goals(), strict=True):
        assert line.endswith(": met" if goal.met else ": MISSED")


def _report(*, work: int = 10, poll: int = 90, limited: int = 0, lag: float = 6.0) -> Report:
    sync = SyncFigures(pages=300, requests=1200, rate_limited=0, per_minute=30, minutes=41.0)
    day = DayFigures(
        events=3000,
        done=Counter(reply=3000),
        webhooks=3400,
        minutes=480.0,
        poll=poll,
        arriving_minutes=480.0,
        work=Counter({"GET /t/{id}.json": work}),
        rate_limited=limited,
        peak_backlog=3,
        lags=[lag] * 100,
        unshown=0,
    )
    return Report(Options(), sync, day)


def test_the_goals_and_their_limits() -> None:
    assert _report().met
    assert [g.met for g in _report(work=151).goals()] == [False, True, True, True, True]
    assert [g.met for g in _report(poll=97).goals()] == [True, False, True, True, True]
    assert [g.met for g in _report(limited=1).goals()] == [True, True, False, True, True]
    assert [g.met for g in _report(lag=10.5).goals()] == [True, True, True, False, True]
    slow = _report()
    slow.sync.minutes = 45.0  # the floor is 1200 / 30 = 40 minutes
    assert [g.met for g in slow.goals()] == [True, True, True, True, False]
    # A post no section ever showed counts as an endless lag.
    lost = _report()
    lost.day.unshown = 10
    assert math.isinf(lost.day.p95) and not lost.met


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (_report(), True, None),
        (_report(work=500), True, 1),
        (_report(work=500), False, None),
    ],
)
def test_strict_exits_1_exactly_when_a_goal_is_missed(
    monkeypatch: pytest.MonkeyPatch, report: Report, strict: bool, code: int | None
) -> None:
    assert exit_code_of(monkeypatch, forum_budget, report, strict=strict) == code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--factor", "0"], "--factor: expected more than 0"),
        (["--events", "-1"], "--events: expected more than 0"),
        (["--pages", "3", "--constellations", "4"], "--constellations: at most --pages"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        forum_budget.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
