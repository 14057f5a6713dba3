"""`constellate api-token ...`: tokens that let machines read the dashboard's JSON API."""

from __future__ import annotations

import click
from sqlalchemy import select

from core.command_context import configured_store
from dashboards.models import ApiToken
from dashboards.tokens import new_token, token_hash


@click.group("api-token")
def api_token() -> None:
    """Tokens that let machines read the JSON API."""


@api_token.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Make a token called NAME and print it (it is not shown again)."""
    token = new_token()
    with configured_store() as (_, store), store.session() as db:
        if db.scalars(select(ApiToken).where(ApiToken.name == name)).first() is not None:
            raise click.ClickException(f"a token called {name!r} exists; pick another name")
        db.add(ApiToken(name=name, token_hash=token_hash(token)))
    click.echo(token)


@api_token.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Stop the token called NAME from working."""
    with configured_store() as (_, store), store.session() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise click.ClickException(f"no token is called {name!r}")
        row.revoked = True
    click.echo(f"revoked {name}")


@api_token.command("list")
def list_tokens() -> None:
    """Every token's name, when it was made and last used, and whether it is revoked."""
    with configured_store() as (_, store), store.session() as db:
        for row in db.scalars(select(ApiToken).order_by(ApiToken.name)):
            used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
            state = "revoked" if row.revoked else "live"
            click.echo(f"{row.name}\t{state}\tmade {row.created_at:%Y-%m-%d}\tlast used {used}")
