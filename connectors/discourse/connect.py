"""DiscourseConnect with the forum as identity provider: the signed request that sends a
browser to the forum, and the check of the forum's signed answer.

The forum does not remember the nonces it echoes back; whoever calls
``verified_connect_payload`` must still check that the nonce is one it issued, unused and
unexpired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from pydiscourse.sso import sso_payload

from core.errors import PermissionDenied


def configured_secret(forum: Mapping[str, Any]) -> str | None:
    """The DiscourseConnect secret of the ``[forum]`` settings, or None when logging in
    through the forum is not set up (no secret or no forum address)."""
    secret = str(forum.get("connect_secret") or "")
    return secret if secret and forum.get("url") else None


def connect_request(secret: str, *, nonce: str, return_url: str) -> str:
    """The signed query (``sso=...&sig=...``) that asks the forum's
    /session/sso_provider to log a person in and send them back to ``return_url``."""
    query: str = sso_payload(secret, nonce=nonce, return_sso_url=return_url)
    return query


def verified_connect_payload(sso: str, sig: str, secret: str) -> dict[str, str]:
    """The fields of a DiscourseConnect answer (``sso`` and ``sig`` as the callback got
    them); PermissionDenied when the signature, the encoding or the nonce is missing or
    wrong."""
    if not secret:
        _reject("no DiscourseConnect secret is configured")
    if not sso or not sig:
        _reject("the sso or sig parameter is missing")
    expected = hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()
    # Constant time: pydiscourse's sso_validate compares with != (it leaks timing).
    if not hmac.compare_digest(expected.encode(), sig.strip().lower().encode()):
        _reject("the signature does not match")
    try:
        decoded = base64.b64decode(sso).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        _reject(f"the sso payload is not base64 of UTF-8 text ({exc})")
    fields = dict(parse_qsl(decoded, keep_blank_values=True))
    if not fields.get("nonce"):
        _reject("the answer carries no nonce")
    return fields


def _reject(why: str) -> NoReturn:
    raise PermissionDenied(
        f"DiscourseConnect answer rejected: {why}", platform="forum", code="bad_sso"
    )
