"""`constellate partners`: the partner registry (wiki pages with ``{{Partner}}``) and who
belongs to which partner (their forum groups)."""

from __future__ import annotations

import click

from core.command_context import configured_store
from core.errors import ConfigError


@click.group("partners")
def partners() -> None:
    """Partner organisations: sync the registry, read their groups' members."""


@partners.command("sync")
@click.option("--full", is_flag=True, help="every page in the partners category")
@click.option(
    "--partner", "titles", multiple=True, metavar="TITLE", help="one partner page (repeatable)"
)
def sync(full: bool, titles: tuple[str, ...]) -> None:
    """Sync partner pages: their forum groups (made or linked), then who belongs to each,
    then the pages' sections."""
    from community.partners.affiliation import refresh_affiliations
    from community.partners.registry import sync_partners
    from community.partners.section import refresh_partner_sections
    from connectors.discourse import ForumClient
    from connectors.mediawiki import WikiClient

    if not full and not titles:
        raise click.UsageError("name pages with --partner, or use --full")
    with configured_store() as (settings, store):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to sync with")
        forum = ForumClient(settings["forum"])
        summary = sync_partners(store, settings, titles=titles, full=full, forum=forum)
        with store.session() as session:
            members = refresh_affiliations(session, forum)
            refresh_partner_sections(session, WikiClient(settings["wiki"]), settings)
    click.echo(summary.headline())
    for line in summary.lines:
        click.echo(f"  {line}")
    click.echo(f"affiliations: {members} members of partner groups read")
