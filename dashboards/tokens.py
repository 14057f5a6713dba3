"""API tokens for machines: made and revoked with `constellate api-token ...`, checked on
each API request. Only a token's SHA-256 is stored; the token is printed once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import click
from sqlalchemy import select

from core import clock
from core.command_context import configured_store
from core.store import get_store
from dashboards.models import ApiToken

PREFIX = "cst_"
# "Last used" is kept to the minute: writing it on every request made each API read a
# synced write to the store.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check(token: str) -> str | None:
    """The name of the live token ``token`` is, or None."""
    if not token.startswith(PREFIX):
        return None
    wanted = _hash(token)
    with get_store().session() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.token_hash == wanted)).first()
        # The lookup is by hash, so timing tells nothing about the token; compare anyway.
        if row is None or row.revoked or not hmac.compare_digest(row.token_hash, wanted):
            return None
        now = clock.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        return row.name


@click.group("api-token")
def api_token() -> None:
    """Tokens that let machines read the JSON API."""


@api_token.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Make a token called NAME and print it (it is not shown again)."""
    token = PREFIX + secrets.token_urlsafe(32)
    with configured_store() as (_, store), store.session() as db:
        if db.scalars(select(ApiToken).where(ApiToken.name == name)).first() is not None:
            raise click.ClickException(f"a token called {name!r} exists; pick another name")
        db.add(ApiToken(name=name, token_hash=_hash(token)))
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
