"""Post endpoints: create (topics, replies, messages), read, latest, edit, delete, recover."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Flask, Response

from sandbox.forum.http import (
    ApiError,
    all_params,
    bool_param,
    current_user,
    empty_response,
    forum,
    int_param,
    invalid_access,
    is_staff,
    json_response,
    list_param,
    nested_param,
    not_found,
    param,
    require_user,
    route,
    text_param,
)
from sandbox.forum.moderation import unhide
from sandbox.forum.posting import (
    create_errors,
    create_reply,
    create_topic,
    destroy_post,
    recover_post,
    revise,
)
from sandbox.forum.serial_categories import category_detail
from sandbox.forum.serial_posts import post_json
from sandbox.forum.state import iso, parse_time
from sandbox.forum.visibility import can_see_topic, visible_post

MEMO_SECONDS = 120
LATEST_POSTS_PAGE = 50


def register(app: Flask) -> None:
    route(app, "/posts", ["POST"])(create_post)
    route(app, "/posts", ["GET"])(latest_posts)
    route(app, "/posts/<int:post_id>", ["GET"])(show_post)
    route(app, "/posts/<int:post_id>", ["PUT"])(update_post)
    route(app, "/posts/<int:post_id>", ["DELETE"])(delete_post)
    route(app, "/posts/<int:post_id>/recover", ["PUT"])(recover)
    route(app, "/posts/<int:post_id>/unhide", ["PUT"])(unhide_post)
    route(app, "/posts/by_number/<int:topic_id>/<int:number>", ["GET"])(post_by_number)


def _memo_key(user: dict[str, Any]) -> str:
    """Discourse's signature: SHA1 of the sorted params plus the user id."""
    params = sorted((k, json.dumps(v, sort_keys=True)) for k, v in all_params().items())
    return hashlib.sha1(f"{params}|{user['id']}".encode()).hexdigest()  # noqa: S324


def create_post() -> Response:
    user = require_user()
    the_forum = forum()
    key = _memo_key(user)
    now = the_forum.now().timestamp()
    remembered = the_forum.memo.get(key)
    if remembered and now - remembered[0] < MEMO_SECONDS:
        post = the_forum.table("posts").get(remembered[1])
        if post:
            return json_response(post_json(the_forum, post, user, "create"))
    raw = text_param("raw")
    if raw is None:
        raise create_errors("Body can't be blank")
    fields: dict[str, Any] = {
        "raw": raw,
        "title": text_param("title"),
        "category_id": int_param("category"),
        "tags": list_param("tags") or [],
        "external_id": text_param("external_id"),
        "embed_url": text_param("embed_url"),
        "reply_to_post_number": int_param("reply_to_post_number"),
    }
    created_at = text_param("created_at")
    if created_at:
        try:
            fields["created_at"] = iso(parse_time(created_at))
        except ValueError as exc:
            raise create_errors("Created at is invalid") from exc
    topic_id = int_param("topic_id")
    if topic_id is not None:
        topic = the_forum.table("topics").get(topic_id)
        if topic is None or not can_see_topic(the_forum, topic, user):
            raise not_found()
        post = create_reply(the_forum, user, topic, fields)
    else:
        if param("archetype") == "private_message":
            fields |= _message_fields(user)
        elif fields["title"] is None:
            raise create_errors("Title can't be blank")
        post = create_topic(the_forum, user, fields)
    the_forum.memo[key] = (now, post["id"])
    return json_response(post_json(the_forum, post, user, "create"))


def _message_fields(user: dict[str, Any]) -> dict[str, Any]:
    """Recipients are usernames or group names (Discourse's target_recipients): a group
    becomes one of the message's allowed groups, whose members may all read it."""
    names = [n.strip() for n in (text_param("target_recipients") or "").split(",") if n.strip()]
    if not names:
        raise create_errors("You must choose a valid user.")
    usernames: list[str] = []
    groups: list[str] = []
    for name in names:
        if forum().user_by_username(name) is not None:
            usernames.append(name)
            continue
        group = _group_by_name(name)
        if group is None:
            raise create_errors(f"Sorry, there is no user '{name}'.")
        groups.append(group["name"])
    return {
        "archetype": "private_message",
        "allowed_usernames": [user["username"], *usernames],
        "allowed_groups": groups,
    }


def _group_by_name(name: str) -> dict[str, Any] | None:
    wanted = name.lower()
    return next((g for g in forum().table("groups").values() if g["name"].lower() == wanted), None)


def latest_posts() -> Response:
    """GET /posts.json?before=: 50 newest visible regular posts with id <= before."""
    user = current_user()
    the_forum = forum()
    before = int_param("before") or 0
    posts = [
        p
        for p in the_forum.table("posts").values()
        if (before <= 0 or p["id"] <= before)
        and p.get("post_type", 1) == 1
        and visible_post(the_forum, p, user)
    ]
    posts.sort(key=lambda p: p["id"], reverse=True)
    page = posts[:LATEST_POSTS_PAGE]
    return json_response({"latest_posts": [post_json(the_forum, p, user, "latest") for p in page]})


def _post_or_404(post_id: int) -> dict[str, Any]:
    the_forum = forum()
    post = the_forum.table("posts").get(post_id)
    if post is None or not visible_post(the_forum, post, current_user()):
        raise not_found()
    return post


def show_post(post_id: int) -> Response:
    post = _post_or_404(post_id)
    return json_response(post_json(forum(), post, current_user(), "show"))


def post_by_number(topic_id: int, number: int) -> Response:
    the_forum = forum()
    post = next(
        (
            p
            for p in the_forum.table("posts").values()
            if p["topic_id"] == topic_id and p["post_number"] == number
        ),
        None,
    )
    if post is None:
        raise not_found()
    return show_post(post["id"])


def update_post(post_id: int) -> Response:
    user = require_user()
    the_forum = forum()
    post = _post_or_404(post_id)
    if not (is_staff(user) or user["id"] == post["user_id"]):
        raise invalid_access()
    raw = nested_param("post", "raw")
    if raw is None or str(raw).strip() == "":
        raise ApiError(400, {"errors": ["param is missing or the value is empty: post"]})
    original = nested_param("post", "original_text")
    if original is not None and original != post["raw"]:
        raise ApiError(409, {"errors": ["edit_conflict"], "error_type": "edit_conflict"})
    first = post["post_number"] == 1
    category = nested_param("post", "category_id")
    old_category = the_forum.table("topics")[post["topic_id"]]["category_id"]
    revise(
        the_forum,
        post,
        raw=str(raw),
        edit_reason=nested_param("post", "edit_reason"),
        title=text_param("title") if first else None,
        category_id=int(category) if first and category not in (None, "") else None,
        editor=user,
    )
    body: dict[str, Any] = {"post": post_json(the_forum, post, user, "update")}
    new_category = the_forum.table("topics")[post["topic_id"]]["category_id"]
    if new_category != old_category:
        body["category"] = category_detail(the_forum, the_forum.table("categories")[new_category])
    return json_response(body)


def delete_post(post_id: int) -> Response:
    user = require_user()
    post = _post_or_404(post_id)
    if not (is_staff(user) or user["id"] == post["user_id"]):
        raise invalid_access()
    if not post.get("deleted_at") or bool_param("force_destroy"):
        destroy_post(forum(), post)
    return empty_response()


def unhide_post(post_id: int) -> Response:
    """PUT /posts/{id}/unhide.json: staff show a hidden post again."""
    user = require_user()
    if not is_staff(user):
        raise invalid_access()
    unhide(_post_or_404(post_id))
    return empty_response()


def recover(post_id: int) -> Response:
    user = require_user()
    post = forum().table("posts").get(post_id)
    if post is None:
        raise not_found()
    if not is_staff(user):
        raise invalid_access()
    if post.get("deleted_at"):
        recover_post(forum(), post)
    return json_response(post_json(forum(), post, user, "show"))
