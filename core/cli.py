"""The `constellate` command, a click group.

Its commands are also registered on the app, so `flask --app core.app ...`
works too. Commands that only need the configuration (check-config, db,
sandbox) never build the app, so they still explain a configuration the app
could not start with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask

from community.constellations.cli import sync
from community.credits.cli import credits_group, people_group
from community.health.cli import health
from community.practices.cli import practices
from core import migrate
from core.config import CONFIG_PATH_VAR, load_config, masked
from core.errors import ConfigError, ConstellateError
from core.worker_cli import inbox_group, worker
from dashboards.tokens import api_token
from webhooks.automations.cli import rules
from webhooks.incoming.cli import poll
from webhooks.outgoing.cli import outgoing


def _remember_config_path(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # The app factory and every command read the path from the environment.
    if value:
        os.environ[CONFIG_PATH_VAR] = value


class ConstellateGroup(click.Group):
    """Our own errors (bad configuration, a sandbox that cannot start) end as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
        except ConstellateError as exc:
            raise click.ClickException(str(exc)) from None


@click.group("constellate", cls=ConstellateGroup)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_remember_config_path,
    help=f"TOML configuration file (or set {CONFIG_PATH_VAR})",
)
def main() -> None:
    """Constellate joins a MediaWiki wiki and a Discourse forum."""


@click.command("check-config")
def check_config() -> None:
    """Print the effective configuration, secrets masked; fail on an invalid one."""
    settings = load_config()
    click.echo(json.dumps(masked(settings), indent=2, sort_keys=True))
    source = os.environ.get(CONFIG_PATH_VAR) or "defaults and environment only"
    click.echo(f"configuration valid ({source})", err=True)


@click.group("db")
def db() -> None:
    """The store's schema: migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    url = load_config()["store"]["url"]
    migrate.upgrade(url, revision)
    click.echo(f"store at revision {migrate.current_revision(url)}")


@db.command("current")
def db_current() -> None:
    """Print the store's revision and the newest one available."""
    url = load_config()["store"]["url"]
    click.echo(f"current: {migrate.current_revision(url)}  head: {migrate.head_revision()}")


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
@directory_option("var/sandbox/wiki")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
def sandbox_wiki(directory: Path, port: int) -> None:
    """Set up and serve a real MediaWiki on 127.0.0.1 (Ctrl-C stops it)."""
    from sandbox.wiki import serve

    serve(directory, port)


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
def sandbox_seed() -> None:
    """Write the example partnership into the configured forum and wiki."""
    from sandbox.seeding import seed_configured

    for line in seed_configured(load_config()):
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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5080, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the service with Werkzeug (one machine; see README for gunicorn)."""
    from werkzeug.serving import run_simple

    from core.app import create_app

    run_simple(host, port, create_app(), threaded=True)


COMMANDS = (
    check_config,
    db,
    sandbox,
    worker,
    inbox_group,
    poll,
    outgoing,
    sync,
    practices,
    credits_group,
    people_group,
    health,
    rules,
    api_token,
)
for command in (*COMMANDS, serve):
    main.add_command(command)


def init_app(app: Flask) -> None:
    """Make the commands available as `flask --app core.app <command>` too."""
    for command in COMMANDS:
        app.cli.add_command(command)


if __name__ == "__main__":
    main()
