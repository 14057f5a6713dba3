"""The health benchmark keeps working at a small size: it prints every figure and both
goals (issue 24) with their ratios, and ``--strict`` exits 1 exactly when a goal is
missed; a figure that disagrees always exits 1. No time is asserted against its goal
here: that is what the benchmark itself is for."""

from __future__ import annotations

import pytest

from bench import health
from bench.health import SMALL, Options, Report
from tests.bench.strict_support import exit_code_of


@pytest.mark.timeout(300)
def test_a_small_run_agrees_and_prints_both_goals() -> None:
    printed: list[str] = []

    report = health.run(Options(posts=SMALL.posts, updates=5), echo=printed.append)

    assert report.wrong == [] and len(report.update_ms) == len(report.record_ms) == 5
    text = "\n".join(printed)
    assert "agreement: OK" in text and "ratio full recompute / SQL reference" in text
    goals = [line.strip() for line in printed if line.strip().startswith("goal: ")]
    assert len(goals) == len(report.goals()) == 2
    for line, goal in zip(goals, report.goals(), strict=True):
        assert line.startswith(f"goal: {goal.name}: {goal.value:.2f} <= {goal.limit:g}: ")
        assert line.endswith(": met" if goal.met else ": MISSED")


def _report(update: float, full: float, wrong: list[str] | None = None) -> Report:
    """Storing a post takes 2 ms and the SQL reference 1 s."""
    return Report(full, 1.0, [update] * 9, [2.0] * 9, wrong or [])


def test_the_goals_and_their_limits() -> None:
    assert [g.met for g in _report(6.0, 8.0).goals()] == [True, True]
    assert [g.met for g in _report(6.1, 8.0).goals()] == [False, True]
    assert [g.met for g in _report(6.0, 8.1).goals()] == [True, False]
    assert [g.value for g in _report(5.0, 4.0).goals()] == [2.5, 4.0]


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (_report(4.0, 5.0), True, None),
        (_report(40.0, 5.0), True, 1),
        (_report(40.0, 5.0), False, None),
        (_report(4.0, 5.0, ["a figure differs"]), False, 1),
    ],
)
def test_strict_exits_1_exactly_when_a_goal_is_missed(
    monkeypatch: pytest.MonkeyPatch, report: Report, strict: bool, code: int | None
) -> None:
    assert exit_code_of(monkeypatch, health, report, strict=strict) == code


def test_bad_options_are_refused_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        health.main(["--updates", "0"])
    assert exit_info.value.code == 2
    assert "--updates: at least 1" in capsys.readouterr().err
