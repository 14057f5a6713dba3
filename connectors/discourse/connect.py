"""DiscourseConnect answers from the forum (the forum as identity provider).

The signature is checked by pydiscourse's ``sso_validate`` (HMAC-SHA256, compared in
constant time) before any field is read.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote

from pydiscourse.exceptions import DiscourseError
from pydiscourse.sso import sso_payload, sso_validate

from core.errors import PermissionDenied


def connect_request(secret: str, *, nonce: str, return_url: str) -> str:
    """The signed query (``sso=...&sig=...``) that asks the forum's
    /session/sso_provider to log a person in and send them back to ``return_url``."""
    query: str = sso_payload(secret, nonce=nonce, return_sso_url=return_url)
    return query


def verified_connect_payload(sso: str, sig: str, secret: str) -> dict[str, str]:
    """The fields of a DiscourseConnect answer; PermissionDenied when its signature or
    encoding is wrong."""
    try:
        sso_validate(sso, sig, secret)
        decoded = base64.b64decode(unquote(sso)).decode("utf-8")
    except (DiscourseError, binascii.Error, UnicodeDecodeError) as exc:
        raise PermissionDenied(
            f"DiscourseConnect answer rejected: {exc}", platform="forum", code="bad_sso"
        ) from None
    return dict(parse_qsl(decoded, keep_blank_values=True))
