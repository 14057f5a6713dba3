"""Likes (POST/DELETE /post_actions) and accepted solutions (the discourse-solved plugin)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from sandbox.forum.http import (
    ApiError,
    bool_param,
    forum,
    int_param,
    invalid_access,
    is_staff,
    json_response,
    missing,
    not_found,
    require_user,
    route,
)
from sandbox.forum.moderation import FLAG_TYPES, flag, flagged_by
from sandbox.forum.serial_people import avatar_template, user_groups
from sandbox.forum.serial_posts import LIKE, likes_of, post_json, webhook_post
from sandbox.forum.state import Forum
from sandbox.forum.visibility import visible_post


def register(app: Flask) -> None:
    route(app, "/post_actions", ["POST"])(create_action)
    route(app, "/post_actions/<int:post_id>", ["DELETE"])(delete_action)
    route(app, "/solution/accept", ["POST"])(accept)
    route(app, "/solution/unaccept", ["POST"])(unaccept)


def _post(post_id: int | None) -> dict[str, Any]:
    if post_id is None:
        raise missing("id")
    post = forum().table("posts").get(post_id)
    if post is None or not visible_post(forum(), post, require_user()):
        raise not_found()
    return post


ALREADY_DONE = ApiError(
    403, {"errors": ["You already performed this action."], "error_type": "invalid_access"}
)


def create_action() -> Response:
    """POST /post_actions.json id=<post id>&post_action_type_id=<2 like, or a flag type>."""
    user = require_user()
    post = _post(int_param("id"))
    type_id = int_param("post_action_type_id")
    if type_id is None:
        raise missing("post_action_type_id")
    if type_id in FLAG_TYPES:
        if flagged_by(forum(), post, user):
            raise ALREADY_DONE
        flag(forum(), post, user, type_id, bool_param("take_action"))
        return json_response(post_json(forum(), post, user, "action"))
    if type_id != LIKE:
        raise invalid_access()
    if post["user_id"] == user["id"]:
        raise invalid_access()
    if any(a["user_id"] == user["id"] for a in likes_of(forum(), post)):
        raise ALREADY_DONE
    like(forum(), post, user)
    return json_response(post_json(forum(), post, user, "action"))


def like(forum: Forum, post: dict[str, Any], user: dict[str, Any]) -> None:
    """Record ``user``'s like of ``post`` and fire ``post_liked`` (the route checked it is
    allowed; the benchmark makes people's likes directly, spending no API request)."""
    action = {
        "post_id": post["id"],
        "user_id": user["id"],
        "post_action_type_id": LIKE,
        "created_at": forum.now_iso(),
        "deleted_at": None,
    }
    forum.insert("post_actions", action)
    topic = forum.table("topics")[post["topic_id"]]
    forum.emit(
        "like",
        "post_liked",
        {
            "post": webhook_post(forum, post),
            "user": {
                "id": user["id"],
                "username": user["username"],
                "name": user.get("name"),
                "avatar_template": avatar_template(user),
            },
        },
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
        # The liker's groups, as the like_created handler passes them to the hook filter.
        group_ids=[g["id"] for g in user_groups(forum, user)],
    )


def delete_action(post_id: int) -> Response:
    user = require_user()
    post = _post(post_id)
    mine = [a for a in likes_of(forum(), post) if a["user_id"] == user["id"]]
    if not mine:
        raise not_found()
    for action in mine:
        action["deleted_at"] = forum().now_iso()
    return json_response(post_json(forum(), post, user, "action"))


def _solution(accepting: bool) -> Response:
    user = require_user()
    post = _post(int_param("id"))
    topic = forum().table("topics")[post["topic_id"]]
    if not (is_staff(user) or user["id"] == topic["user_id"]) or post["post_number"] == 1:
        raise invalid_access()
    if accepting:
        topic["accepted_answer_post_id"] = post["id"]
    elif topic.get("accepted_answer_post_id") == post["id"]:
        topic["accepted_answer_post_id"] = None
    payload = webhook_post(forum(), post)
    event = "accepted_solution" if accepting else "unaccepted_solution"
    forum().emit(
        "solved",
        event,
        payload,
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
    )
    if accepting:
        author = forum().table("users").get(post["user_id"]) or {}
        return json_response(
            {
                "post_number": post["post_number"],
                "username": author.get("username"),
                "name": author.get("name"),
                "excerpt": post["cooked"][:200],
            }
        )
    return json_response({"success": "OK"})


def accept() -> Response:
    return _solution(True)


def unaccept() -> Response:
    return _solution(False)
