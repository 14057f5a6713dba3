"""`constellate rules dry-run` (an event fixture, or a moment for the schedules) prints what
each rule would do and does nothing; `constellate rules runs` shows the record and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from service.main import main
from tests.conftest import SessionForum, toml
from webhooks.automations.models import AutomationRun

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "discourse"
RULES = """
rules:
  - name: greet
    trigger: {event: "forum.post_*"}
    actions:
      - reply: {text: "Hello {{author}}, thanks for the note in {{topic_title}}."}
      - tag: {tags: [greeted]}
  - name: tools-only
    trigger: {event: forum.post_created}
    conditions: {text: {contains: [wrench]}}
    actions:
      - tag: {tags: [tools]}
  - name: leads
    trigger: {event: forum.post_created}
    actions:
      - message: {to: ["{{lead_group}}"], title: "New post", text: "See {{post_url}}"}
  - name: monday
    trigger: {schedule: {cron: "0 9 * * MON"}}
    actions:
      - webhook: {type: automation.weekly, data: {slot: "{{slot}}"}}
"""


@pytest.fixture
def config(forum: SessionForum, tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    path = tmp_path / "constellate.toml"
    sections: dict[str, dict[str, Any]] = {
        "service": {"secret_key": "s" * 40},
        "store": {"url": url},
        "wiki": {"url": "https://wiki.example.org", "username": "Bot@c", "password": "unused"},
        "forum": {"url": forum.url, "api_key": forum.api_key, "api_username": forum.api_username},
        "automations": {"builtins": [], "time_zone": "Europe/London"},
    }
    path.write_text(toml(sections))
    return path


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), "rules", *args])


def test_dry_run_of_an_event_fixture_says_what_each_rule_would_do(
    config: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    result = invoke(
        config, "dry-run", str(rules), "--event", str(FIXTURES / "post__post_created.json")
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "event forum:post_created:post:2 (forum.post_created, post:2)"
    assert "  rule greet: would do 2 action(s)" in lines
    greet = lines[lines.index("  rule greet: would do 2 action(s)") + 1]
    assert greet.startswith("    - reply in topic 1") and "Hello system" in greet
    assert any(line.startswith("  rule tools-only: would not act: text:") for line in lines), lines
    assert "  rule leads: would fail: message: to: missing placeholder(s): lead_group" in lines
    assert not any("monday" in line for line in lines)  # its trigger does not match
    store = Store(json_url(config))
    with store.session() as session:  # nothing was done or recorded
        assert session.scalar(select(func.count()).select_from(AutomationRun)) == 0
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0
    store.dispose()


def test_dry_run_at_a_moment_fires_the_schedules_of_that_minute(
    config: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    # 09:00 in London on a Monday in winter is 09:00 UTC; in summer, 08:00 UTC.
    winter = invoke(config, "dry-run", str(rules), "--at", "2026-11-23T09:00:00+00:00")
    assert winter.exit_code == 0, winter.output
    assert "rule monday: would do 1 action(s)" in winter.output
    assert "automation.weekly" in winter.output
    summer = invoke(config, "dry-run", str(rules), "--at", "2026-06-22T08:00:00+00:00")
    assert "rule monday: would do 1 action(s)" in summer.output
    off = invoke(config, "dry-run", str(rules), "--at", "2026-06-22T09:00:00+00:00")
    assert off.exit_code == 0 and "nothing is due at" in off.output


def test_dry_run_needs_exactly_one_of_event_and_at(config: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    result = invoke(config, "dry-run", str(rules))
    assert result.exit_code == 2 and "exactly one of --event" in result.output


def test_dry_run_of_an_invalid_rules_file_lists_its_errors(config: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: Bad Name\n    trigger: {schedule: {cron: nope}}\n")
    result = invoke(config, "dry-run", str(rules), "--at", "2026-11-23T09:00:00+00:00")
    assert result.exit_code == 1
    assert "/rules/0/name" in result.output and "missing field 'actions'" in result.output
    assert "/rules/0/trigger/schedule/cron" in result.output


def test_runs_lists_the_record_and_the_errors(config: Path) -> None:
    store = Store(json_url(config))
    with store.session() as session:
        session.add(
            AutomationRun(
                rule="leads",
                event_id="forum:post_created:post:9",
                event_kind="forum.post_created",
                subject="post:9",
                state="failed",
                actions=[
                    {
                        "kind": "message",
                        "description": "message to leads",
                        "result": "failed",
                        "error": "message: forum rejected the request (422)",
                    }
                ],
                error="message: forum rejected the request (422)",
            )
        )
        session.add(
            AutomationRun(
                rule="greet",
                event_id="forum:post_created:post:9",
                event_kind="forum.post_created",
                subject="post:9",
                state="done",
                actions=[{"kind": "tag", "description": "tagged topic 3", "result": "done"}],
            )
        )
    store.dispose()
    everything = invoke(config, "runs")
    assert everything.exit_code == 0, everything.output
    assert "greet" in everything.output and "leads" in everything.output
    failed = invoke(config, "runs", "--failed")
    assert "greet" not in failed.output
    assert "failed   leads  on forum:post_created:post:9" in failed.output
    assert "error: message: forum rejected the request (422)" in failed.output


def json_url(config: Path) -> str:
    for line in config.read_text().splitlines():
        if line.startswith("url = ") and "sqlite" in line:
            return str(json.loads(line.removeprefix("url = ")))
    raise AssertionError("no store url")
