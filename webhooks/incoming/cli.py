"""``constellate poll wiki``: read the wiki's recent changes into the inbox once."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from core.command_context import configured_store
from webhooks.incoming.forum_poll import poll_forum
from webhooks.incoming.wiki_poll import poll_wiki


@click.group("poll")
def poll() -> None:
    """Read platform changes into the inbox (the worker processes them)."""


@poll.command("wiki")
def poll_wiki_command() -> None:
    """Record the wiki changes since the stored cursor; print the report as JSON."""
    with configured_store() as (settings, store):
        report = poll_wiki(store, settings)
    click.echo(json.dumps(asdict(report), sort_keys=True))
    if report.cursor_too_old:
        click.echo("warning: changes were lost from the wiki; a full reconcile ran", err=True)


@poll.command("forum")
def poll_forum_command() -> None:
    """Record the forum posts since the stored cursor (missed webhooks); print a report."""
    with configured_store() as (settings, store):
        report = poll_forum(store, settings)
    click.echo(json.dumps(asdict(report), sort_keys=True))
