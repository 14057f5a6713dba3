"""DiscourseConnect provider: ``GET /session/sso_provider`` vouches for the logged-in user.

The app signs ``sso`` (base64 of a query string with ``nonce`` and ``return_sso_url``) with
the secret the forum keeps for the return URL's host; the forum answers with a redirect back
carrying the user's fields, signed the same way. Errors are plain text, as Discourse renders
them. The nonce is the app's to check: Discourse does not track it for the provider flow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from flask import Flask, current_app, redirect, request
from werkzeug.wrappers import Response

from sandbox.forum import sandbox_login

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

LOGIN_ERROR = "Login Error"
UNKNOWN_HOST_ERROR = (
    "Authentication failed due to missing secret. "
    "Contact the site administrators to fix this problem."
)
# Request fields echoed back to the app (DiscourseConnectBase accessors it may send).
ECHOED_FIELDS = ("nonce", "return_sso_url", "prompt", "require_2fa")


def init_app(app: Flask, forum: Forum) -> None:
    app.add_url_rule("/session/sso_provider", "sso_provider", sso_provider, methods=["GET"])
    sandbox_login.init_app(app)


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 over the base64 TEXT of the payload, as Discourse signs it."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode_payload(fields: dict[str, str]) -> str:
    """Strict base64 (no newlines) of the form-encoded fields."""
    return base64.b64encode(urlencode(fields).encode()).decode()


def decode_payload(sso: str) -> dict[str, str]:
    """The fields inside ``sso``; tolerant of the newlines older encoders add."""
    try:
        text = base64.b64decode(re.sub(r"\s", "", sso), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("payload is not base64") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def domain_matches(pattern: str, host: str) -> bool:
    """``discourse_connect_provider_secrets`` domains: exact, or ``*`` as a wildcard."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, host, flags=re.IGNORECASE) is not None


def provider_secrets(setting: str) -> dict[str, str]:
    """``domain|secret`` rows, one a line."""
    secrets: dict[str, str] = {}
    for line in setting.splitlines():
        domain, sep, secret = line.strip().partition("|")
        if sep and domain.strip() and secret.strip():
            secrets[domain.strip()] = secret.strip()
    return secrets


def lookup_secret(setting: str, return_url: str, sso: str, sig: str) -> str | None:
    """The secret for the return URL's host: the first matching domain (sorted descending)
    whose secret verifies the signature, else the first matching domain's secret."""
    host = urlsplit(return_url).hostname or ""
    secrets = provider_secrets(setting)
    first_match: str | None = None
    for domain in sorted(secrets, reverse=True):
        if domain_matches(domain, host):
            first_match = first_match or domain
            if hmac.compare_digest(sign(secrets[domain], sso).encode(), sig.encode()):
                return secrets[domain]
    return secrets[first_match] if first_match else None


def to_url(return_url: str, fields: dict[str, str], secret: str) -> str:
    """``return_sso_url`` plus ``sso`` and ``sig`` (``&`` if it already has a query)."""
    payload = encode_payload(fields)
    joiner = "&" if "?" in return_url else "?"
    return f"{return_url}{joiner}sso={quote(payload, safe='')}&sig={sign(secret, payload)}"


def user_fields(forum: Forum, user: dict[str, Any]) -> dict[str, str]:
    """What Discourse tells the app about the user; None values are left out."""
    values: dict[str, Any] = {
        "admin": bool(user.get("admin")),
        "avatar_url": user.get("avatar_url"),
        "email": user.get("email"),
        "external_id": str(user["id"]),
        "groups": ",".join(forum.user_group_names(user)),
        "moderator": bool(user.get("moderator")),
        "name": user.get("name"),
        "username": user["username"],
    }
    return {key: _text(value) for key, value in values.items() if value not in (None, "")}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


def sso_provider() -> Response:
    forum: Forum = current_app.extensions["forum"]
    settings = forum.site_settings
    if not settings.get("enable_discourse_connect_provider"):
        return _plain("Not Found", 404)
    sso = request.args.get("sso", "")
    sig = request.args.get("sig", "")
    try:
        fields = decode_payload(sso)
    except ValueError:
        return _plain(LOGIN_ERROR, 422)
    return_url = fields.get("return_sso_url", "")
    secret = lookup_secret(
        str(settings.get("discourse_connect_provider_secrets") or ""), return_url, sso, sig
    )
    if secret is None:
        return _plain(UNKNOWN_HOST_ERROR, 400)
    if not hmac.compare_digest(sign(secret, sso).encode(), sig.encode()):
        return _plain(LOGIN_ERROR, 422)
    prompt = fields.get("prompt")
    if prompt is not None and prompt != "none":
        return _plain("The only supported prompt value is 'none'.", 400)
    echoed = {key: fields[key] for key in ECHOED_FIELDS if fields.get(key)}
    if fields.get("logout") == "true":
        response = redirect(return_url, 302)
        sandbox_login.log_out(forum, response)
        return response
    user = sandbox_login.logged_in_user(forum)
    if user is None and prompt == "none":
        return redirect(to_url(return_url, _ordered({**echoed, "failed": "true"}), secret), 302)
    if user is None:
        back = f"{request.path}?{request.query_string.decode()}"
        return redirect("/login?" + urlencode({"return_path": back}), 302)
    answer = {**echoed, **user_fields(forum, user)}
    if fields.get("require_2fa") == "true":
        answer["no_2fa_methods"] = "true"  # sandbox users never have a second factor
    return redirect(to_url(return_url, _ordered(answer), secret), 302)


def _ordered(fields: dict[str, str]) -> dict[str, str]:
    """Discourse builds the payload in the (alphabetical) order of its accessor list."""
    return dict(sorted(fields.items()))
