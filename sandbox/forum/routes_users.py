"""User endpoints: sign-up (with the honeypot call), profiles, admin lists and trust levels."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask, Response

from sandbox.forum.creation import add_user
from sandbox.forum.http import (
    ApiError,
    bool_param,
    current_user,
    forum,
    int_param,
    invalid_access,
    is_staff,
    json_response,
    missing,
    not_found,
    require_admin,
    require_staff,
    require_user,
    required,
    route,
    text_param,
)
from sandbox.forum.serial_users import (
    admin_list_user,
    admin_user,
    user_page,
    user_profile,
    webhook_user,
)

USERNAME_PATTERN = re.compile(r"^[\w.-]{3,20}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PAGE_SIZE = 100


def register(app: Flask) -> None:
    route(app, "/session/hp", ["GET"])(honeypot)
    route(app, "/users", ["POST"])(create_user)
    route(app, "/u/<username>", ["GET"])(show_user)
    route(app, "/u/<username>", ["PUT"])(update_user)
    route(app, "/users/<username>", ["GET"])(show_user)
    route(app, "/u/by-external/<external_id>", ["GET"])(user_by_external)
    route(app, "/users/by-external/<external_id>", ["GET"])(user_by_external)
    route(app, "/admin/users/<int:user_id>", ["GET"])(admin_show)
    route(app, "/admin/users/list/<flag>", ["GET"])(admin_list)
    route(app, "/admin/users/<int:user_id>/trust_level", ["PUT"])(trust_level)
    route(app, "/admin/users/<int:user_id>/grant_moderation", ["PUT"])(grant_moderation)
    route(app, "/admin/users/<int:user_id>/revoke_moderation", ["PUT"])(revoke_moderation)
    route(app, "/admin/users/<int:user_id>/activate", ["PUT"])(activate)


def honeypot() -> Response:
    """GET /session/hp.json: the values the sign-up form must echo (pydiscourse sends them)."""
    challenge = secrets.token_hex(16)
    return json_response({"value": challenge, "challenge": challenge[::-1]})


def create_user() -> Response:
    """POST /users.json; only staff API callers may create active, approved users at once."""
    the_forum = forum()
    caller = current_user()
    username = required("username")
    email = required("email")
    errors = []
    if not USERNAME_PATTERN.match(username):
        errors.append(
            "Username must be 3 to 20 characters: letters, numbers, dashes, dots or underscores"
        )
    elif the_forum.user_by_username(username):
        errors.append("Username must be unique")
    if not EMAIL_PATTERN.match(email):
        errors.append("Primary email is invalid.")
    elif any(
        str(u.get("email", "")).lower() == email.lower() for u in the_forum.table("users").values()
    ):
        errors.append("Primary email has already been taken")
    password = text_param("password")
    if password is not None and len(password) < 10:
        errors.append("Password is too short (minimum is 10 characters)")
    if errors:
        return json_response(
            {
                "success": False,
                "message": errors[0],
                "errors": {"base": errors},
                "values": {"username": username, "email": email},
            }
        )
    staff = bool(caller and (caller.get("admin") or caller.get("moderator")))
    user = add_user(
        the_forum,
        username,
        name=text_param("name"),
        email=email,
        active=staff and bool_param("active"),
        approved=staff and bool_param("approved"),
    )
    message = (
        "Your account is activated and ready to use."
        if user["active"]
        else f"You're almost done! We sent an activation mail to <b>{email}</b>."
    )
    return json_response(
        {"success": True, "active": user["active"], "message": message, "user_id": user["id"]}
    )


def _user_or_404(username: str) -> dict[str, Any]:
    user = forum().user_by_username(username)
    if user is None:
        raise not_found()
    return user


def show_user(username: str) -> Response:
    user = _user_or_404(username)
    return json_response(user_page(forum(), user, current_user()))


def update_user(username: str) -> Response:
    """PUT /u/{username}.json (UsersController#update): only ``name`` is kept here. Like
    UserUpdater, a saved update fires user_updated; the answer is json_result's
    ``{"success": "OK", "user": UserSerializer as the caller sees it}``."""
    viewer = require_user()
    user = _user_or_404(username)
    if viewer["id"] != user["id"] and not is_staff(viewer):
        raise invalid_access()
    name = text_param("name")
    if name is not None:
        user["name"] = name
    the_forum = forum()
    the_forum.emit("user", "user_updated", webhook_user(the_forum, user))
    return json_response({"success": "OK", "user": user_profile(the_forum, user, viewer)})


def user_by_external(external_id: str) -> Response:
    user = next(
        (u for u in forum().table("users").values() if u.get("external_id") == external_id),
        None,
    )
    if user is None:
        raise not_found()
    return json_response(user_page(forum(), user, current_user()))


def _by_id(user_id: int) -> dict[str, Any]:
    user = forum().table("users").get(user_id)
    if user is None:
        raise not_found()
    return user


def admin_show(user_id: int) -> Response:
    require_staff()
    return json_response(admin_user(forum(), _by_id(user_id)))


def admin_list(flag: str) -> Response:
    """GET /admin/users/list/{flag}.json: active|new|staff|suspended|admins|moderators|all …"""
    require_staff()
    users = [u for u in forum().table("users").values() if u["id"] > 0]
    email = text_param("email") or text_param("filter")
    if email:
        wanted = email.lower()
        users = [
            u
            for u in users
            if wanted in str(u.get("email", "")).lower() or wanted in u["username"].lower()
        ]
    filters = {
        "active": lambda u: u.get("active"),
        "new": lambda u: u["trust_level"] == 0,
        "staff": lambda u: u.get("admin") or u.get("moderator"),
        "admins": lambda u: u.get("admin"),
        "moderators": lambda u: u.get("moderator"),
        "suspended": lambda u: u.get("suspended_till"),
        "pending": lambda u: not u.get("approved"),
        "staged": lambda u: u.get("staged"),
    }
    if flag in filters:
        users = [u for u in users if filters[flag](u)]
    elif flag != "all":
        raise not_found()
    users.sort(key=lambda u: u["created_at"], reverse=text_param("asc") is None)
    page = max(1, int_param("page") or 1)
    users = users[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    show_emails = bool_param("show_emails") or bool(email)
    rows = []
    for u in users:
        row = admin_list_user(forum(), u)
        if not show_emails:
            row.pop("email")
        rows.append(row)
    return json_response(rows)


def trust_level(user_id: int) -> Response:
    require_admin()
    user = _by_id(user_id)
    level = int_param("level")
    if level is None:
        raise missing("level")
    if not 0 <= level <= 4:
        raise ApiError(422, {"errors": ["Invalid trust level"], "error_type": "record_invalid"})
    user["trust_level"] = level
    return json_response({"admin_user": admin_user(forum(), user)})


def _set_moderator(user_id: int, value: bool) -> Response:
    require_admin()
    user = _by_id(user_id)
    user["moderator"] = value
    return json_response({"admin_user": admin_user(forum(), user)})


def grant_moderation(user_id: int) -> Response:
    return _set_moderator(user_id, True)


def revoke_moderation(user_id: int) -> Response:
    return _set_moderator(user_id, False)


def activate(user_id: int) -> Response:
    require_staff()
    user = _by_id(user_id)
    user["active"] = True
    user["approved"] = True
    return json_response({"success": "OK"})
