"""SANDBOX ONLY: log a browser in as any forum user, without a password.

A real Discourse has its own login screens; the sandbox only needs someone to be logged in
so the DiscourseConnect provider has a user to vouch for. ``/login`` lists the users in a
form (protected by a double-submit CSRF token); ``/session/sandbox-login?username=`` does
the same for scripts and tests. Sessions live in memory, keyed by a random ``_t`` cookie.
"""

from __future__ import annotations

import hmac
import secrets
import weakref
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, redirect, request
from markupsafe import escape
from werkzeug.wrappers import Response

from sandbox.forum.http import json_response

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

SESSION_COOKIE = "_t"
CSRF_COOKIE = "_sandbox_csrf"
_sessions: weakref.WeakKeyDictionary[Forum, dict[str, int]] = weakref.WeakKeyDictionary()

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox login</title></head>
<body>
<h1>Forum sandbox login</h1>
<p><strong>Sandbox only:</strong> pick any user; there are no passwords here.</p>
<p>{status}</p>
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="return_path" value="{return_path}">
<label>User <select name="username">{options}</select></label>
<button type="submit">Log in</button>
</form>
</body></html>
"""


def init_app(app: Flask) -> None:
    app.add_url_rule("/login", "sandbox_login_page", login_page, methods=["GET"])
    app.add_url_rule("/login", "sandbox_login_submit", login_submit, methods=["POST"])
    app.add_url_rule(
        "/session/sandbox-login", "sandbox_login_script", script_login, methods=["GET", "POST"]
    )
    app.add_url_rule(
        "/session/sandbox-logout", "sandbox_logout", logout_view, methods=["GET", "POST"]
    )


def _forum() -> Forum:
    forum: Forum = current_app.extensions["forum"]
    return forum


def _store(forum: Forum) -> dict[str, int]:
    return _sessions.setdefault(forum, {})


def logged_in_user(forum: Forum) -> dict[str, Any] | None:
    """The user whose session cookie came with the request, if still active."""
    token = request.cookies.get(SESSION_COOKIE, "")
    user_id = _store(forum).get(token) if token else None
    user = forum.table("users").get(user_id) if user_id is not None else None
    if user is None or not user.get("active") or user.get("suspended_till"):
        return None
    return user


def log_in(forum: Forum, user: dict[str, Any], response: Response) -> None:
    token = secrets.token_urlsafe(32)
    _store(forum)[token] = user["id"]
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", path="/")


def log_out(forum: Forum, response: Response) -> None:
    _store(forum).pop(request.cookies.get(SESSION_COOKIE, ""), None)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")


def safe_return_path(path: str | None) -> str:
    """Only paths on this site, so the login cannot be used as an open redirect."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def login_page() -> Response:
    forum = _forum()
    user = logged_in_user(forum)
    users = sorted(forum.table("users").values(), key=lambda row: row["username"].lower())
    options = "".join(
        f'<option value="{escape(u["username"])}">{escape(u["username"])}</option>'
        for u in users
        if u.get("active")
    )
    csrf = secrets.token_urlsafe(24)
    status = f"Logged in as {escape(user['username'])}." if user else "Not logged in."
    html = LOGIN_PAGE.format(
        status=status,
        csrf=csrf,
        return_path=escape(safe_return_path(request.args.get("return_path"))),
        options=options,
    )
    response = Response(html, content_type="text/html; charset=utf-8")
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict", path="/login")
    return response


def login_submit() -> Response:
    forum = _forum()
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.form.get("csrf", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return Response("Invalid or missing CSRF token.", 403, content_type="text/plain")
    user = forum.user_by_username(request.form.get("username", ""))
    if user is None or not user.get("active"):
        return Response("No such active user.", 404, content_type="text/plain")
    response = redirect(safe_return_path(request.form.get("return_path")), 302)
    log_in(forum, user, response)
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


def script_login() -> Response:
    """``?username=`` (and optional ``return_path``): log in without a form."""
    forum = _forum()
    user = forum.user_by_username(request.values.get("username", ""))
    if user is None or not user.get("active"):
        return json_response({"errors": ["No such active user."], "error_type": "not_found"}, 404)
    return_path = request.values.get("return_path")
    if return_path:
        response = redirect(safe_return_path(return_path), 302)
    else:
        response = json_response({"success": "OK", "username": user["username"]})
    log_in(forum, user, response)
    return response


def logout_view() -> Response:
    response = json_response({"success": "OK"})
    log_out(_forum(), response)
    return response
