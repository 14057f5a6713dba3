"""The `constellate` command and its `flask --app service.app` twin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from core.migrate import head_revision
from service.main import main
from tests.conftest import toml


@pytest.fixture
def config_file(tmp_path: Path, settings: dict[str, Any]) -> Path:
    path = tmp_path / "constellate.toml"
    path.write_text(toml(settings))
    return path


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in list(os.environ):
        if name.startswith("CONSTELLATE_"):
            monkeypatch.delenv(name)
    return CliRunner()


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("check-config", "db", "sandbox", "serve"):
        assert command in result.output
    sandbox_help = runner.invoke(main, ["sandbox", "--help"]).output
    assert "wiki" in sandbox_help and "demo" in sandbox_help


def test_check_config_prints_the_effective_config_masked(
    runner: CliRunner, config_file: Path, settings: dict[str, Any]
) -> None:
    result = runner.invoke(
        main, ["--config", str(config_file), "check-config"], env={"CONSTELLATE_WIKI_MAXLAG": "2"}
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["wiki"]["maxlag"] == 2
    assert shown["wiki"]["password"] == "********"
    assert shown["service"]["secret_key"] == "********"
    assert shown["wiki"]["username"] == settings["wiki"]["username"]
    assert settings["wiki"]["password"] not in result.output
    assert "configuration valid" in result.stderr


def test_a_bad_value_is_one_line_naming_the_key(runner: CliRunner, config_file: Path) -> None:
    result = runner.invoke(
        main, ["--config", str(config_file), "check-config"], env={"CONSTELLATE_WIKI_TIMEOUT": "0"}
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: configuration: wiki.timeout: 0.0 is not valid; "
        "expected a number > 0 and <= 300 (seconds per request)"
    ]


def test_db_upgrade_creates_the_store(
    runner: CliRunner, config_file: Path, settings: dict[str, Any]
) -> None:
    result = runner.invoke(main, ["--config", str(config_file), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"store at revision {head_revision()}" in result.output
    engine = create_engine(settings["store"]["url"])
    assert "inbox_events" in inspect(engine).get_table_names()
    engine.dispose()
    current = runner.invoke(main, ["--config", str(config_file), "db", "current"])
    assert current.output.strip() == f"current: {head_revision()}  head: {head_revision()}"


def test_the_same_commands_work_through_flask(config_file: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONSTELLATE_")},
        "CONSTELLATE_CONFIG": str(config_file),
    }
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "--app", "service.app", "check-config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["wiki"]["password"] == "********"
