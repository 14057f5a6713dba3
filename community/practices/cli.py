"""`constellate practices`: the shared practices registry (wiki pages with ``{{Practice}}``)
and its forum side (tags, discussed topics, suggestions for moderators)."""

from __future__ import annotations

import click

from core.command_context import configured_store
from core.errors import ConfigError


@click.group("practices")
def practices() -> None:
    """Shared practices: sync tags and discussions, candidates, promotion, adoption."""


@practices.command("sync")
@click.option("--full", is_flag=True, help="every practice page and every forum topic")
@click.option(
    "--practice", "titles", multiple=True, metavar="TITLE", help="one practice page (repeatable)"
)
def sync(full: bool, titles: tuple[str, ...]) -> None:
    """Sync practice pages: tags on the forum, tagged topics, the page's section, stubs."""
    from community.practices.registry import sync_practices

    if not full and not titles:
        raise click.UsageError("name pages with --practice, or use --full")
    with configured_store() as (settings, store):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to sync with")
        summary = sync_practices(store, settings, titles=titles, full=full)
    click.echo(summary.headline())
    for line in summary.lines:
        click.echo(f"  {line}")


# -- candidates, promotion, adoption (community/practices/candidates, promotion, adoption)


@practices.command("candidates")
@click.option("--scan", type=click.IntRange(min=1), metavar="N", help="score the N latest topics")
@click.option("--dismiss", "dismiss_id", type=int, metavar="ID", help="dismiss a suggestion")
@click.option("--by", "moderator", metavar="USERNAME", help="the moderator who decides")
def candidates(scan: int | None, dismiss_id: int | None, moderator: str | None) -> None:
    """Suggestions for moderators: forum topics that look like a practice (candidates)
    and practice tags without a page (stubs). Lists the open ones."""
    from community.practices import candidates as found
    from connectors.discourse import ForumClient

    with configured_store() as (settings, store), store.session() as session:
        if dismiss_id is not None:
            dismissed = found.dismiss(session, dismiss_id, moderator=moderator)
            click.echo(f"dismissed {dismissed.id}: {dismissed.title}")
        if scan is not None:
            new = found.scan_latest(session, ForumClient(settings["forum"]), settings, scan)
            click.echo(f"scanned the {scan} latest topics: {len(new)} new candidates")
        waiting = found.open_suggestions(session)
        click.echo(f"open suggestions: {len(waiting)}")
        for item in waiting:
            subject = f"topic {item.topic_id}" if item.topic_id else f"tag {item.tag}"
            click.echo(f"  {item.id}  {item.kind}  {item.score:g}  {subject}  {item.title}")
            for reason in item.reasons:
                click.echo(f"      {reason}")


@practices.command("promote")
@click.argument("topic_id", type=int)
@click.option("--title", help="the practice page's title (default: the topic's title)")
@click.option("--organisation", help="the originating organisation (default: the author's)")
@click.option("--by", "moderator", metavar="MODERATOR", help="the moderator who promotes")
def promote(
    topic_id: int, title: str | None, organisation: str | None, moderator: str | None
) -> None:
    """Promote forum topic TOPIC_ID to a practice page on the wiki."""
    from community.practices.promotion import promote as promote_topic
    from connectors.discourse import ForumClient
    from connectors.mediawiki import WikiClient

    with configured_store() as (settings, store), store.session() as session:
        done = promote_topic(
            session,
            WikiClient(settings["wiki"]),
            ForumClient(settings["forum"]),
            settings,
            topic_id=topic_id,
            title=title,
            organisation=organisation,
            moderator=moderator,
        )
    click.echo(f"promoted topic {done.topic_id} to {done.title!r} (tag {done.tag})")


@practices.command("adopt")
@click.argument("practice")
@click.argument("organisation")
@click.option("--by", "actor", metavar="USERNAME", help="the person who adopted it")
def adopt(practice: str, organisation: str, actor: str | None) -> None:
    """Record that ORGANISATION adopted PRACTICE (the page's adopted_by lists it)."""
    from community.practices.adoption import adopt as adopt_practice
    from connectors.mediawiki import WikiClient

    with configured_store() as (settings, store), store.session() as session:
        state = adopt_practice(
            session,
            WikiClient(settings["wiki"]),
            settings,
            practice_title=practice,
            organisation=organisation,
            actor=actor,
        )
    click.echo(f"{practice}: {organisation}: {state}")
