"""`constellate rules check FILE`: a valid file says so, an invalid one lists every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from core.config import CONFIG_PATH_VAR
from service.main import main
from tests.conftest import toml

VALID = """
rules:
  - name: tools
    trigger: {event: forum.post_created}
    actions: [{reply: {text: "Thanks {{author}}"}}]
  - name: monday
    trigger: {schedule: {cron: "0 9 * * MON"}}
    actions: [{webhook: {type: automation.monday, data: {slot: "{{slot}}"}}}]
"""

INVALID = """
rules:
  - name: tools
    trigger: {event: forum.post_created}
    actions: [{reply: {text: "Thanks {{autor}}"}}, {tag: {tagz: [a]}}]
  - name: Monday
    trigger: {schedule: {cron: "0 9 * *"}}
    actions: []
  - name: tools
    trigger: {unanswered: {hours: 48}}
    conditions: {text: {matches: "["}}
    actions: [{message: {to: ["{{lead_group}}"], title: "{{nope}}", text: x}}]
"""

PROBLEMS = [
    "rule tools: /rules/0/actions/0/reply/text: {{autor}} is never filled for this trigger;"
    " did you mean {{author}}?",
    "rule tools: /rules/0/actions/1/tag: missing option 'tags'",
    "rule tools: /rules/0/actions/1/tag/tagz: unknown option 'tagz' (did you mean 'tags'?)",
    "rule #1: /rules/1/actions: must list at least one item",
    "rule #1: /rules/1/name: 'Monday': a rule name is 1 to 64 lowercase letters, digits, - and _,"
    " not starting with - or _",
    "rule #1: /rules/1/trigger/schedule/cron: a cron expression has 5 fields"
    " (minute hour day month weekday), not 4",
    "rule tools: /rules/2/actions/0/message/title: {{nope}} is never filled for this trigger",
    "rule tools: /rules/2/conditions/text/matches: not a valid regular expression:"
    " unterminated character set at position 0",
    "rule tools: /rules/2/name: the name 'tools' is taken by rule #0",
]


@pytest.fixture(autouse=True)
def no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_PATH_VAR, raising=False)


def test_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID, "utf-8")
    done = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"{path}: 2 rules valid\n"
    assert done.stderr == ""


def test_an_invalid_file_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(INVALID, "utf-8")
    done = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"{path}: {len(PROBLEMS)} problem(s)", *PROBLEMS]


def test_a_missing_file(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "none.yaml")])
    assert done.exit_code == 1
    assert done.stderr.splitlines()[1] == "file: /: cannot read (No such file or directory)"


def test_the_configured_time_zone_is_used(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID, "utf-8")
    config = tmp_path / "constellate.toml"
    settings = {
        "service": {"secret_key": "s" * 40},
        "wiki": {
            "url": "http://127.0.0.1:9",
            "script_path": "/",
            "username": "Bot@constellate",
            "password": "not-a-real-password",
        },
        "forum": {"url": "https://forum.example.org"},
        "automations": {"time_zone": "Mars/Olympus_Mons"},
    }
    config.write_text(toml(settings), "utf-8")
    done = CliRunner().invoke(main, ["--config", str(config), "rules", "check", str(path)])
    assert done.exit_code == 1
    assert "file: /: unknown time zone 'Mars/Olympus_Mons' (automations.time_zone)" in (
        done.stderr.splitlines()
    )
    settings["automations"] = {"time_zone": "Europe/Berlin"}
    config.write_text(toml(settings), "utf-8")
    done = CliRunner().invoke(main, ["--config", str(config), "rules", "check", str(path)])
    assert done.exit_code == 0, done.output


def test_without_a_usable_configuration_utc_is_used(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(VALID, "utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("[automations\n", "utf-8")
    done = CliRunner().invoke(main, ["--config", str(broken), "rules", "check", str(path)])
    assert done.exit_code == 0, done.output
    assert done.stdout == f"{path}: 2 rules valid\n"
