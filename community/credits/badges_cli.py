"""`constellate credits badges` and `constellate credits authorship PAGE` (added to the
credits group in ``credits_cli``)."""

from __future__ import annotations

import click

from community.credits.authorship import shares, surviving_tokens
from community.credits.badges import award_badges
from community.credits.models import WikiAuthorship
from community.credits.wiki_credit import update_page_credit
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient
from core.command_context import configured_store
from core.errors import ConfigError


@click.command("badges")
def credits_badges() -> None:
    """Grant the forum badges people have earned (each once), and list the new grants."""
    with configured_store() as (settings, store):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to grant badges on")
        wiki = WikiClient(settings["wiki"]) if settings["wiki"].get("url") else None
        with store.session() as session:
            grants = award_badges(session, ForumClient(settings["forum"]), settings, wiki=wiki)
            lines = [f"  {g.badge}: {g.username}" for g in grants]
    click.echo(f"badges granted: {len(lines)}")
    for line in lines:
        click.echo(line)


@click.command("authorship")
@click.argument("page")
def credits_authorship(page: str) -> None:
    """Who wrote the surviving text of PAGE (brought up to date first), largest share first."""
    with configured_store() as (settings, store):
        wiki = WikiClient(settings["wiki"])
        found = wiki.read_pages([page])[page]
        if not found.exists or found.pageid is None:
            raise click.ClickException(f"{page}: no such page on the wiki")
        with store.session() as session:
            update_page_credit(session, wiki, settings, title=found.title, page_id=found.pageid)
            row = session.get(WikiAuthorship, found.pageid)
            state = row.state if row is not None else None
    if state is None:
        raise click.ClickException(f"{page}: no revisions to attribute")
    tokens, share = surviving_tokens(state), shares(state)
    total = len(state["tokens"])
    click.echo(f"{found.title}: {total} tokens as of revision {state['revid']}")
    for author in sorted(tokens, key=lambda a: (-tokens[a], a.casefold())):
        click.echo(f"  {author}: {tokens[author]} tokens ({share[author]:.1%})")
