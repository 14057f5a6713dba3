"""`constellate sync`: sync constellation pages with the forum, and say what happened."""

from __future__ import annotations

import click

from community.constellations.models import open_issues
from community.constellations.sync import SyncSummary, sync_constellations
from core.command_context import configured_store
from core.errors import ConfigError


@click.command("sync")
@click.option("--full", is_flag=True, help="every constellation page and every linked page")
@click.option("--dry-run", is_flag=True, help="say what would change; write nothing")
@click.option(
    "--constellation",
    "names",
    multiple=True,
    metavar="NAME",
    help="the wiki page of one constellation (repeatable)",
)
def sync(full: bool, dry_run: bool, names: tuple[str, ...]) -> None:
    """Sync constellations: wiki page -> forum category and charter topic, forum ->
    the page's bot section, and the leadership timeline.

    Conflicts are reported, not failures (exit code 0); a bad configuration or an
    unreachable platform ends with one line and a non-zero exit code.
    """
    if not full and not names:
        raise click.UsageError("name pages with --constellation, or use --full")
    with configured_store() as (settings, store):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to sync with")
        summary = sync_constellations(
            store, settings, titles=names, full=full, dry_run=dry_run, progress=full
        )
        with store.session() as session:
            issues = [
                f"{i.kind}: {i.wiki_title}" + (f": {i.field}" if i.field else "") + f": {i.detail}"
                for i in open_issues(session)
            ]
    report(summary, issues, dry_run=dry_run)


def report(summary: SyncSummary, issues: list[str], *, dry_run: bool) -> None:
    click.echo(("dry run, nothing written; " if dry_run else "") + summary.headline())
    for line in summary.lines:
        click.echo(f"  {line}")
    if issues:
        click.echo(f"open issues ({len(issues)}):")
        for issue in issues:
            click.echo(f"  {issue}")
