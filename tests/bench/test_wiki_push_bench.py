"""The wiki push benchmark keeps working at a tiny size (a real wiki whose feed reaches the
service, the forum sandbox, the polling worker): it prints every figure and goal, and
``--strict`` exits 1 exactly when a goal is missed. No lag is asserted against its goal
here: that is what the benchmark itself is for."""

from __future__ import annotations

import math

import pytest

from bench import wiki_push
from bench.wiki_push import Options, Report
from tests.bench.strict_support import exit_code_of

TINY = Options(edits=2, poll_edits=1, poll_seconds=2.0)


@pytest.mark.timeout(300)
def test_a_tiny_run_prints_every_figure_and_goal() -> None:
    printed: list[str] = []

    report = wiki_push.run(TINY, echo=printed.append)

    assert len(report.push) == 2 and len(report.poll) == 1
    assert all(math.isfinite(lag) and lag > 0 for lag in report.push + report.poll)
    assert report.feed["recorded"] >= 3  # the warm-up and two saves came through the feed
    text = "\n".join(printed)
    for figure in (
        "feed goes to the service over udp",
        "push: 2 saves; wiki save -> charter post p50",
        "poll only: 1 saves; wiki save -> charter post p50",
        "feed messages: recorded",
        "gaps the poll filled: 0",
        "ratio push p95 / poll-only p95",
    ):
        assert figure in text
    goals = [line for line in printed if line.startswith("goal: ")]
    assert len(goals) == len(report.goals()) == 2
    for line, goal in zip(goals, report.goals(), strict=True):
        assert line.startswith(f"goal: {goal.name}: ")
        assert line.endswith(": met" if goal.met else ": MISSED")


def _report(push: float, poll: float) -> Report:
    return Report(Options(poll_seconds=6.0), push=[push] * 20, poll=[poll] * 6)


def test_the_goals_and_their_limits() -> None:
    assert [g.met for g in _report(1.9, 9.9).goals()] == [True, True]
    assert [g.met for g in _report(2.1, 9.9).goals()] == [False, True]
    # The poll's bound: its interval, an idle worker's look (2 s), the push's 2 s.
    assert [g.met for g in _report(0.5, 10.1).goals()] == [True, False]
    assert not Report(Options()).met  # nothing measured meets nothing


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (_report(0.5, 5.0), True, None),
        (_report(3.0, 5.0), True, 1),
        (_report(3.0, 5.0), False, None),
    ],
)
def test_strict_exits_1_exactly_when_a_goal_is_missed(
    monkeypatch: pytest.MonkeyPatch, report: Report, strict: bool, code: int | None
) -> None:
    assert exit_code_of(monkeypatch, wiki_push, report, strict=strict) == code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--edits", "0"], "--edits: expected more than 0"),
        (["--poll-seconds", "-1"], "--poll-seconds: expected more than 0"),
        (["--transport", "tcp"], "argument --transport: invalid choice"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        wiki_push.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
