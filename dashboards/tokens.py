"""API tokens for machines: made and revoked with `constellate api-token ...`
(dashboards/cli.py), checked on each API request. Only a token's SHA-256 is stored; the
token is printed once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select

from core import clock
from core.store import get_store
from dashboards.models import ApiToken

PREFIX = "cst_"
# "Last used" is kept to the minute: writing it on every request made each API read a
# synced write to the store.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def check(token: str) -> str | None:
    """The name of the live token ``token`` is, or None."""
    if not token.startswith(PREFIX):
        return None
    wanted = token_hash(token)
    with get_store().session() as db:
        row = db.scalars(select(ApiToken).where(ApiToken.token_hash == wanted)).first()
        # The lookup is by hash, so timing tells nothing about the token; compare anyway.
        if row is None or row.revoked or not hmac.compare_digest(row.token_hash, wanted):
            return None
        now = clock.now()
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        return row.name
