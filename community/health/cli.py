"""`constellate health recompute` and `constellate health report`."""

from __future__ import annotations

import json
from datetime import datetime

import click

from community.health.report import latest_reports, render_text
from community.health.runs import recompute_and_alert
from core.command_context import configured_store


@click.group("health")
def health() -> None:
    """Conversation health: metrics per constellation and category, and alerts."""


@health.command("recompute")
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="Compute as of this time (UTC unless it carries an offset); default now.",
)
def recompute(at: datetime | None) -> None:
    """Recompute every metric of every scope from the store, then raise or resolve alerts."""
    with configured_store() as (settings, store):
        outcome = recompute_and_alert(store, settings, now=at)
    click.echo(
        f"health: {outcome.scopes} scope(s) computed; alerts raised {outcome.raised}, "
        f"resolved {outcome.resolved}, open {outcome.open}"
    )


@health.command("report")
@click.option("--constellation", "name", default=None, help="Only this constellation (page title).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def report(name: str | None, as_json: bool) -> None:
    """Print the latest health figures of each scope (as last recomputed)."""
    with configured_store() as (_settings, store), store.session() as session:
        reports = latest_reports(session, label=name)
        if name is not None and not reports:
            raise click.ClickException(
                f"constellation {name!r}: no health figures (unknown name, or run "
                "`constellate health recompute` first)"
            )
        text = (
            json.dumps([r.as_json() for r in reports], indent=2, default=str)
            if as_json
            else render_text(reports)
        )
    click.echo(text)
