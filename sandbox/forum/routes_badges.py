"""Badges: admin list and create, grant (POST /user_badges), a user's badges, revoke."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Flask, Response

from sandbox.forum.http import (
    ApiError,
    bool_param,
    current_user,
    forum,
    int_param,
    json_response,
    missing,
    not_found,
    require_admin,
    route,
    text_param,
)
from sandbox.forum.seed import BADGE_GROUPINGS, new_badge
from sandbox.forum.serial_people import (
    badge_json,
    badge_types,
    side_loaded_badges,
    user_badge_json,
    webhook_user_badge,
)

REASON_ERROR = "Invalid reason, the reason must be a link to a topic or post on this site."


def register(app: Flask) -> None:
    route(app, "/admin/badges", ["GET"])(admin_badges)
    route(app, "/admin/badges", ["POST"])(create_badge)
    route(app, "/user_badges", ["POST"])(grant)
    route(app, "/user-badges/<username>", ["GET"])(user_badges)
    route(app, "/user_badges/<int:grant_id>", ["DELETE"])(revoke)


def admin_badges() -> Response:
    require_admin()
    badges = sorted(forum().table("badges").values(), key=lambda b: b["id"])
    return json_response(
        {
            "badges": [badge_json(forum(), b, admin=True) for b in badges],
            "badge_types": badge_types(),
            "badge_groupings": BADGE_GROUPINGS,
            "admin_badges": {
                "protected_system_fields": ["name", "badge_type_id", "multiple_grant"],
                "triggers": {
                    "user_change": 8,
                    "none": 0,
                    "post_revision": 2,
                    "trust_level_change": 4,
                    "post_action": 1,
                },
                "badge_ids": [b["id"] for b in badges],
                "badge_grouping_ids": [g["id"] for g in BADGE_GROUPINGS],
                "badge_type_ids": [t["id"] for t in badge_types()],
            },
        }
    )


def create_badge() -> Response:
    require_admin()
    name = text_param("name")
    if not name:
        raise missing("name")
    type_id = int_param("badge_type_id")
    if type_id is None:
        raise missing("badge_type_id")
    if type_id not in {t["id"] for t in badge_types()}:
        raise ApiError(422, {"errors": ["Badge type is invalid"], "error_type": "record_invalid"})
    if any(b["name"].lower() == name.lower() for b in forum().table("badges").values()):
        raise ApiError(
            422, {"errors": ["Name has already been taken"], "error_type": "record_invalid"}
        )
    badge = new_badge(
        name,
        type_id,
        description=text_param("description"),
        long_description=text_param("long_description"),
        icon=text_param("icon"),
        allow_title=bool_param("allow_title"),
        multiple_grant=bool_param("multiple_grant"),
        listable=bool_param("listable", True),
        enabled=bool_param("enabled", True),
        badge_grouping_id=int_param("badge_grouping_id"),
        query=text_param("query"),
        show_posts=bool_param("show_posts"),
    )
    forum().insert("badges", badge)
    body = {"badge_types": badge_types(), "badge": badge_json(forum(), badge, admin=True)}
    return json_response(body)


def _reason_post(reason: str | None) -> dict[str, Any] | None:
    """The post a reason URL points at; it must be a topic or post URL on this forum."""
    if not reason:
        return None
    url = urlparse(reason)
    base = urlparse(forum().base_url)
    parts = url.path.strip("/").split("/")
    if (url.netloc and url.netloc != base.netloc) or not parts or parts[0] not in ("t", "p"):
        raise ApiError(400, {"failed": "FAILED", "message": REASON_ERROR, "errors": [REASON_ERROR]})
    numbers = [int(p) for p in parts[1:] if p.isdigit()]
    posts = forum().table("posts")
    if parts[0] == "p" and numbers:
        return posts.get(numbers[0])
    if numbers:
        topic_id, number = numbers[0], numbers[1] if len(numbers) > 1 else 1
        return next(
            (p for p in posts.values() if p["topic_id"] == topic_id and p["post_number"] == number),
            None,
        )
    raise ApiError(400, {"failed": "FAILED", "message": REASON_ERROR, "errors": [REASON_ERROR]})


def grant() -> Response:
    """POST /user_badges.json; a repeated grant of a single-grant badge returns the old one."""
    granter = require_admin()
    username = text_param("username")
    if not username:
        raise missing("username")
    user = forum().user_by_username(username)
    if user is None:
        raise not_found()
    badges = forum().table("badges")
    badge_id = int_param("badge_id")
    badge = badges.get(badge_id) if badge_id is not None else None
    if badge is None and text_param("badge_name"):
        wanted = str(text_param("badge_name")).lower()
        badge = next((b for b in badges.values() if b["name"].lower() == wanted), None)
    if badge is None or not badge["enabled"]:
        raise not_found()
    post = _reason_post(text_param("reason"))
    existing = next(
        (
            g
            for g in forum().table("user_badges").values()
            if g["user_id"] == user["id"] and g["badge_id"] == badge["id"]
        ),
        None,
    )
    if existing is None or badge["multiple_grant"]:
        row = {
            "badge_id": badge["id"],
            "user_id": user["id"],
            "granted_by_id": granter["id"],
            "granted_at": forum().now_iso(),
            "post_id": post["id"] if post else None,
        }
        forum().insert("user_badges", row)
        forum().emit("user_badge", "user_badge_granted", webhook_user_badge(forum(), row))
        existing = row
    body = {"user_badge": user_badge_json(forum(), existing, granter)}
    return json_response(body | side_loaded_badges(forum(), [existing]))


def user_badges(username: str) -> Response:
    """GET /user-badges/{username}.json; ``grouped=true`` lists each badge once with its
    count, as the profile's badge page asks."""
    user = forum().user_by_username(username)
    if user is None:
        raise not_found()
    grants = [g for g in forum().table("user_badges").values() if g["user_id"] == user["id"]]
    grouped = bool_param("grouped")
    if grouped:
        grants = list({g["badge_id"]: g for g in reversed(grants)}.values())[::-1]
    viewer = current_user()
    return json_response(
        {"user_badges": [user_badge_json(forum(), g, viewer, grouped=grouped) for g in grants]}
        | side_loaded_badges(forum(), grants)
    )


def revoke(grant_id: int) -> Response:
    require_admin()
    row = forum().table("user_badges").get(grant_id)
    if row is None:
        raise not_found()
    payload = webhook_user_badge(forum(), row)
    del forum().table("user_badges")[grant_id]
    forum().emit("user_badge", "user_badge_revoked", payload)
    return json_response({"success": "OK"})
