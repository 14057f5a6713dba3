"""The `constellate` command: every command of the service (service/cli.py lists them)
and `serve`. Commands that only need the configuration (check-config, db, sandbox) never
build the app, so they still explain a configuration the app could not start with.
"""

from __future__ import annotations

import os
from typing import Any

import click
from werkzeug.serving import run_simple

from core.config import CONFIG_PATH_VAR
from core.errors import ConfigError, ConstellateError
from service.app import create_app
from service.cli import COMMANDS


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


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5080, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the service with Werkzeug (one machine; see README for gunicorn)."""
    run_simple(host, port, create_app(), threaded=True)


for command in (*COMMANDS, serve):
    main.add_command(command)


if __name__ == "__main__":
    main()
