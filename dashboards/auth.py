"""Moderator login through DiscourseConnect (the forum vouches for who is at the browser),
logout, and the guards in front of every page and API route.

Only the forum's admins and moderators, and members of the configured groups, get in. The
nonce lives in the browser's server-side session: one use, ten minutes, and only in the
browser that started the login. Successes and refusals are logged without secrets.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from connectors.discourse.connect import (
    configured_secret,
    connect_request,
    verified_connect_payload,
)
from core import clock
from core.errors import PermissionDenied
from dashboards import tokens
from dashboards.sessions import StoreSession
from dashboards.web import Viewer, api, json_error, pages, render_page

log = logging.getLogger("constellate.dashboard.auth")

HOME = "/dashboard/"
LOGIN_TTL = timedelta(minutes=10)
OPEN_ENDPOINTS = frozenset(
    {"dashboard.login", "dashboard.login_start", "dashboard.login_callback", "dashboard.static"}
)


def may_use_dashboard(fields: Mapping[str, Any], allowed_groups: Sequence[str]) -> bool:
    """Admins, moderators and members of an allowed group (DiscourseConnect fields or an
    admin user record: booleans or "true"/"false", groups comma-joined or listed)."""
    if str(fields.get("admin")).lower() == "true" or str(fields.get("moderator")).lower() == "true":
        return True
    groups = fields.get("groups") or []
    names = groups.split(",") if isinstance(groups, str) else groups
    return bool({name.strip() for name in names} & set(allowed_groups))


def _connect_secret() -> str | None:
    return configured_secret(current_app.config["CONSTELLATE"]["forum"])


def _local_next(target: str | None) -> str:
    """Where to go after login: a dashboard path only, never another site."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return HOME


@pages.before_request
def require_moderator() -> ResponseReturnValue | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    user = session.get("user")
    if not user:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    g.viewer = Viewer(username=user["username"], is_machine=False)
    return None


@api.before_request
def require_reader() -> ResponseReturnValue | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        name = tokens.check(header.removeprefix("Bearer ").strip())
        if name is None:
            log.warning("api: refused a request with an unknown or revoked token")
            return _unauthorised("the API token is unknown or revoked")
        g.viewer = Viewer(username=name, is_machine=True)
        return None
    user = session.get("user")
    if not user:
        return _unauthorised("send an API token (Authorization: Bearer …) or log in")
    g.viewer = Viewer(username=user["username"], is_machine=False)
    return None


def _unauthorised(message: str) -> ResponseReturnValue:
    response, status = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="constellate"'
    return response, status


@pages.get("/login")
def login() -> ResponseReturnValue:
    if session.get("user"):
        return redirect(_local_next(request.args.get("next")))
    configured = _connect_secret() is not None
    body = render_page(
        "dashboard/login.html",
        configured=configured,
        next=_local_next(request.args.get("next")),
        logged_out="logged_out" in request.args,
    )
    return body, 200 if configured else 503


@pages.get("/login/start")
def login_start() -> ResponseReturnValue:
    secret = _connect_secret()
    if secret is None:
        return redirect(url_for("dashboard.login"))
    settings = current_app.config["CONSTELLATE"]
    nonce = secrets.token_urlsafe(32)  # 256 bits from the system's CSPRNG
    session["login"] = {
        "nonce": nonce,
        "started": clock.now().isoformat(),
        "next": _local_next(request.args.get("next")),
    }
    return_url = settings["service"]["base_url"].rstrip("/") + url_for("dashboard.login_callback")
    query = connect_request(secret, nonce=nonce, return_url=return_url)
    return redirect(f"{settings['forum']['url'].rstrip('/')}/session/sso_provider?{query}")


@pages.get("/login/callback")
def login_callback() -> ResponseReturnValue:
    secret = _connect_secret()
    if secret is None:
        return redirect(url_for("dashboard.login"))
    started = session.pop("login", None)  # one use, whatever the answer
    try:
        fields = verified_connect_payload(
            request.args.get("sso", ""), request.args.get("sig", ""), secret
        )
        _check_nonce(started, fields["nonce"])
    except PermissionDenied as exc:
        log.warning("dashboard login refused: %s", exc)
        return _refused("The forum's answer could not be accepted. Start the login again.")
    username = fields.get("username", "")
    allowed_groups = current_app.config["CONSTELLATE"]["dashboard"]["allowed_groups"]
    if not may_use_dashboard(fields, allowed_groups):
        log.warning("dashboard login refused: %s is not a moderator or allowed", username)
        return _refused(
            f"The forum account {username} is not an admin, a moderator or a member of a"
            " group allowed to use the dashboard."
        )
    assert isinstance(session, StoreSession)
    session.clear()
    forum_id = fields.get("external_id", "")  # the forum's user id, for the role re-check
    session["user"] = {
        "username": username,
        "forum_user_id": int(forum_id) if forum_id.isdigit() else None,
        "name": fields.get("name", ""),
    }
    session.regenerate()  # a new id after login: a planted id gains nothing
    log.info("dashboard login: %s", username)
    return redirect(_local_next(started.get("next") if isinstance(started, dict) else None))


def _check_nonce(started: Any, nonce: str) -> None:
    if not isinstance(started, dict) or not isinstance(started.get("nonce"), str):
        raise PermissionDenied("no login was started in this browser", platform="forum")
    if not hmac.compare_digest(started["nonce"].encode(), nonce.encode()):
        raise PermissionDenied("the nonce is not the one this browser was given", platform="forum")
    began = datetime.fromisoformat(started["started"])
    if clock.now() - began > LOGIN_TTL:
        raise PermissionDenied("the login took longer than ten minutes", platform="forum")


def _refused(text: str) -> ResponseReturnValue:
    return render_page("dashboard/refused.html", text=text), 403


@pages.post("/logout")
def logout() -> ResponseReturnValue:
    username = session.get("user", {}).get("username", "")
    assert isinstance(session, StoreSession)
    session.end()
    log.info("dashboard logout: %s", username)
    return redirect(url_for("dashboard.login", logged_out=1), code=303)
