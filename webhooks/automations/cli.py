"""`constellate rules ...`: check a rules file, dry-run it, and read the record of runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from core.command_context import configured_store
from core.config import load_config
from core.errors import ConfigError
from webhooks.automations.dry_run import dry_run as run_dry
from webhooks.automations.dry_run import event_from_fixture, forum_reader, report
from webhooks.automations.history import recent_runs, run_lines
from webhooks.automations.rules_file import active_rules, load
from webhooks.automations.vocabulary import RulesInvalid


@click.group("rules")
def rules() -> None:
    """Automation rules: check, dry-run, runs."""


def configured_time_zone() -> str:
    """The partnership's time zone; UTC when there is no usable configuration (a rules
    file can be checked on a machine that does not run the service)."""
    try:
        return str(load_config()["automations"]["time_zone"])
    except ConfigError:
        return "UTC"


@rules.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def check(ctx: click.Context, file: Path) -> None:
    """Check FILE and list every problem in it, by rule and path."""
    try:
        rule_set = load(file, time_zone=configured_time_zone())
    except RulesInvalid as exc:
        click.echo(f"{exc.source}: {len(exc.problems)} problem(s)", err=True)
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        ctx.exit(1)
    count = len(rule_set.rules)
    click.echo(f"{file}: {count} rule{'' if count == 1 else 's'} valid")


@rules.command("dry-run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--event",
    "fixture",
    type=click.Path(dir_okay=False, path_type=Path),
    help="an event file: a recorded Discourse webhook or a stored event (JSON)",
)
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%z"]),
    help="a moment (with its UTC offset): what schedules, beats and scans would fire then",
)
def dry_run(file: Path, fixture: Path | None, at: datetime | None) -> None:
    """Print what each rule of FILE (with the built-ins) would do, doing nothing."""
    if (fixture is None) == (at is None):
        raise click.UsageError("give exactly one of --event FIXTURE or --at TIME")
    with configured_store() as (settings, store):
        chosen = {**settings["automations"], "rules_file": str(file)}
        rule_set = active_rules({**settings, "automations": chosen})  # with the built-ins
        with store.session() as session:
            try:
                event = event_from_fixture(fixture) if fixture is not None else None
                judged = run_dry(
                    session,
                    settings,
                    rule_set,
                    event=event,
                    at=at.astimezone(UTC) if at is not None else None,
                    forum=forum_reader(settings),
                )
            finally:
                session.rollback()  # a dry run writes nothing
    if at is not None and not judged:
        click.echo(f"nothing is due at {at.isoformat()}")
    for each in judged:
        for line in report(each.event, each.verdicts):
            click.echo(line)


@rules.command("runs")
@click.option("--failed", is_flag=True, help="only failed runs and runs stopped by the loop limit")
@click.option("--rule", default=None, help="only this rule's runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def runs(failed: bool, rule: str | None, limit: int) -> None:
    """Recent rule runs, newest first: each action's result and the errors."""
    with configured_store() as (_settings, store), store.session() as session:
        found = recent_runs(session, failed_only=failed, rule=rule, limit=limit)
        if not found:
            click.echo("no runs")
        for run in found:
            for line in run_lines(run):
                click.echo(line)
