"""`constellate backfill [--wiki] [--forum]`: the community's past, read once."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from core.command_context import configured_store

UNITS = {"wiki": "page", "posts": "post", "likes": "person"}


@click.command("backfill")
@click.option("--wiki", "wiki", is_flag=True, help="only the wiki's page histories")
@click.option("--forum", "forum", is_flag=True, help="only the forum's posts, likes and solutions")
def backfill(wiki: bool, forum: bool) -> None:
    """Turn the wiki's and the forum's history into credit, leadership timelines and
    freshness, as the live path would have (both by default). Resumable: a stopped run
    continues where it stopped; a finished one changes nothing when run again."""
    from community.backfill.run import chosen_sources, run_backfill

    bars: dict[str, tqdm] = {}

    def progress(source: str, done: int, total: int | None) -> None:
        bar = bars.get(source)
        if bar is None:
            bar = bars[source] = tqdm(
                desc=source, total=total, unit=UNITS[source], file=sys.stderr, leave=True
            )
        bar.total = total
        bar.n = done
        bar.refresh()

    with configured_store() as (settings, store):
        try:
            report = run_backfill(
                store.session,
                settings,
                sources=chosen_sources(wiki=wiki, forum=forum),
                progress=progress,
            )
        finally:
            for bar in bars.values():
                bar.close()
    click.echo(report.headline())
