"""`constellate sandbox ...`: the local platforms for the demo and the tests. Each command
imports its platform only when run, so the others start without its dependencies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from core.config import load_config

WIKI_DIR = "var/sandbox/wiki"  # where `sandbox wiki` keeps its wiki unless told otherwise


@click.group("sandbox")
def sandbox() -> None:
    """Local platforms for the demo and the tests."""


def directory_option(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(default),
        show_default=True,
        help="where settings, databases and state live (reused if present)",
    )


@sandbox.command("wiki")
@directory_option(WIKI_DIR)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--feed",
    metavar="URI",
    help="push every change to this recent-changes feed (the service's wiki.feed: "
    "udp://HOST:PORT or redis://HOST:PORT/CHANNEL)",
)
def sandbox_wiki(directory: Path, port: int, feed: str | None) -> None:
    """Set up and serve a real MediaWiki on 127.0.0.1 (Ctrl-C stops it)."""
    from sandbox.wiki import serve

    serve(directory, port, feed=feed)


@sandbox.command("forum")
@click.option("--port", type=click.IntRange(0, 65535), default=4200, show_default=True)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="keep the forum's state in this JSON file across restarts",
)
@click.option("--api-key", default=None, help="the admin API key (generated if not given)")
@click.option(
    "--rate-limit",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="admin API requests a minute, as Discourse's max_admin_api_reqs_per_minute",
)
def sandbox_forum(state_file: Path | None, port: int, api_key: str | None, rate_limit: int) -> None:
    """Serve a Discourse-compatible forum sandbox on 127.0.0.1 (Ctrl-C stops it)."""
    from sandbox.forum.server import serve

    serve(port=port, state_file=state_file, api_key=api_key, rate_limit_per_minute=rate_limit)


@sandbox.command("seed")
@click.option(
    "--wiki-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(WIKI_DIR),
    show_default=True,
    help="the sandbox wiki's folder (as `sandbox wiki --dir`): its history is imported "
    "with the wiki's maintenance scripts",
)
def sandbox_seed(wiki_dir: Path) -> None:
    """Write the example partnership into the configured forum and the sandbox wiki."""
    from core import clock
    from sandbox.seeding import seed_configured
    from sandbox.wiki import installed

    # No sandbox there: the command's group ends with installed()'s one-line error.
    wiki = installed(wiki_dir)
    for line in seed_configured(load_config(), wiki=wiki, now=clock.now()):
        click.echo(line)


@sandbox.command("demo")
@directory_option("var/demo")
@click.option("--wiki-port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--forum-port", type=click.IntRange(0, 65535), default=4200, show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5080, show_default=True)
def sandbox_demo(directory: Path, wiki_port: int, forum_port: int, port: int) -> None:
    """Start the whole local demo: wiki, forum, example data, service (Ctrl-C stops it)."""
    from sandbox.demo import run_demo

    run_demo(directory, wiki_port, forum_port, port)
