"""The user directory (GET /directory_items.json) and a user's action stream
(GET /user_actions.json), as Discourse answers them.

Sources (Discourse core): DirectoryItemsController#index (50 a page, ``period`` required,
``meta.load_more_directory_items`` with the ``period``/``order``/``asc`` parameters and
the next page, sorted as Rails' ``to_query`` sorts), UserActionsController#index
(``username`` required; ``filter`` a comma list of action types; ``offset``; ``limit``,
30 by default and at most 100), UserAction.stream (newest first; ``target_*`` is the
stream's owner, ``acting_*`` who acted, ``username``/``user_id`` the post's author) and
UserActionSerializer. Only the like actions (1 like, 2 was liked) are modelled: the
sandbox keeps likes, not the other actions, so a stream of other types is empty.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response

from sandbox.forum.http import (
    ApiError,
    current_user,
    forum,
    int_param,
    invalid_access,
    json_response,
    not_found,
    required,
    route,
    text_param,
)
from sandbox.forum.serial_people import avatar_template
from sandbox.forum.serial_posts import LIKE, excerpt
from sandbox.forum.state import Forum
from sandbox.forum.visibility import visible_post

DIRECTORY_PAGE = 50
PERIODS = ("all", "yearly", "quarterly", "monthly", "weekly", "daily")
HEADINGS = (  # DirectoryItem.headings: the columns, the first is the default order
    "likes_received",
    "likes_given",
    "topic_count",
    "post_count",
    "topics_entered",
    "posts_read",
    "days_visited",
)
ACTIONS_PAGE, ACTIONS_MAX = 30, 100
LIKE_ACTION, WAS_LIKED_ACTION = 1, 2  # UserAction::LIKE, ::WAS_LIKED
PRIVATE_TYPES = frozenset({2, 6, 7, 9, 11})  # UserAction.private_types: self and admins only
INVALID_PARAMETERS = ApiError(400, {"errors": ["You supplied invalid parameters to the request."]})


def register(app: Flask) -> None:
    route(app, "/directory_items", ["GET"])(directory_items)
    route(app, "/user_actions", ["GET"])(user_actions)


# -- the directory ----------------------------------------------------------------------


def directory_items() -> Response:
    """The period ``all`` is what the sandbox keeps: every period answers its totals."""
    period = required("period")
    if period not in PERIODS:
        raise invalid_access()
    order = text_param("order") or HEADINGS[0]
    page = max(0, int_param("page") or 0)
    the_forum = forum()
    rows = [_directory_row(the_forum, u) for u in _listed_users(the_forum)]
    if order in HEADINGS:
        rows.sort(key=lambda row: row[order], reverse=text_param("asc") is None)
    asked = {"period": period, "order": text_param("order"), "asc": text_param("asc")}
    more = {k: v for k, v in asked.items() if v is not None} | {"page": str(page + 1)}
    return json_response(
        {
            "directory_items": rows[page * DIRECTORY_PAGE : (page + 1) * DIRECTORY_PAGE],
            "meta": {
                "last_updated_at": the_forum.now_iso(),
                "total_rows_directory_items": len(rows),
                "load_more_directory_items": "/directory_items?" + urlencode(sorted(more.items())),
            },
        }
    )


def _listed_users(the_forum: Forum) -> list[dict[str, Any]]:
    """Real, active, unstaged accounts (the directory refresh leaves the others out)."""
    return [
        u
        for u in the_forum.table("users").values()
        if u["id"] > 0 and u.get("active") and not u.get("staged")
    ]


def _directory_row(the_forum: Forum, user: dict[str, Any]) -> dict[str, Any]:
    posts = [
        p
        for p in the_forum.table("posts").values()
        if p["user_id"] == user["id"] and not p.get("deleted_at") and _public(the_forum, p)
    ]
    mine = {p["id"] for p in posts}
    likes = [a for a in the_forum.table("post_actions").values() if _counted_like(the_forum, a)]
    return {
        "id": user["id"],
        "likes_received": sum(1 for a in likes if a["post_id"] in mine),
        "likes_given": sum(1 for a in likes if a["user_id"] == user["id"]),
        "topics_entered": 0,
        "topic_count": sum(1 for p in posts if p["post_number"] == 1),
        "post_count": sum(1 for p in posts if p["post_number"] > 1),
        "posts_read": 0,
        "days_visited": 0,
        "user": {
            "id": user["id"],
            "username": user["username"],
            "name": user.get("name"),
            "avatar_template": avatar_template(user),
            "title": user.get("title"),
        },
    }


def _public(the_forum: Forum, post: dict[str, Any]) -> bool:
    topic = the_forum.table("topics").get(post["topic_id"])
    return topic is not None and topic["archetype"] != "private_message"


def _counted_like(the_forum: Forum, action: dict[str, Any]) -> bool:
    """UserStat's likes_given and likes_received leave out likes in private messages."""
    if action["post_action_type_id"] != LIKE or action.get("deleted_at"):
        return False
    post = the_forum.table("posts").get(action["post_id"])
    return post is not None and _public(the_forum, post)


# -- a user's actions ---------------------------------------------------------------------


def user_actions() -> Response:
    username = required("username")
    owner = forum().user_by_username(username)
    if owner is None:
        raise not_found()
    viewer = current_user()
    try:
        types = [int(t) for t in (text_param("filter") or "").split(",") if t.strip()]
        limit = int_param("limit", ACTIONS_PAGE) or ACTIONS_PAGE
    except ValueError:
        raise INVALID_PARAMETERS from None
    if limit < 0 or limit > ACTIONS_MAX:
        raise INVALID_PARAMETERS
    offset = max(0, int_param("offset") or 0)
    if PRIVATE_TYPES & set(types) and not _self_or_admin(viewer, owner):
        raise not_found()
    rows = [
        row
        for kind in (LIKE_ACTION, WAS_LIKED_ACTION)
        if not types or kind in types
        for row in _like_actions(forum(), owner, kind, viewer)
    ]
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    return json_response({"user_actions": rows[offset : offset + limit]})


def _self_or_admin(viewer: dict[str, Any] | None, owner: dict[str, Any]) -> bool:
    return bool(viewer and (viewer["id"] == owner["id"] or viewer.get("admin")))


def _like_actions(
    the_forum: Forum, owner: dict[str, Any], kind: int, viewer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The owner's likes (1), or the likes of the owner's posts (2), the viewer may see:
    never in a deleted topic; deleted and hidden posts only to staff (and their author)."""
    users = the_forum.table("users")
    rows = []
    for action in the_forum.table("post_actions").values():
        if action["post_action_type_id"] != LIKE or action.get("deleted_at"):
            continue
        post = the_forum.table("posts").get(action["post_id"])
        if post is None:
            continue
        mine = action["user_id"] if kind == LIKE_ACTION else post["user_id"]
        if mine != owner["id"]:
            continue
        topic = the_forum.table("topics")[post["topic_id"]]
        if topic.get("deleted_at") or not visible_post(the_forum, post, viewer):
            continue
        staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
        if post.get("hidden") and not staff and not (viewer and viewer["id"] == post["user_id"]):
            continue
        rows.append(_action_row(the_forum, action, post, topic, kind, owner, users))
    return rows


def _action_row(
    the_forum: Forum,
    action: dict[str, Any],
    post: dict[str, Any],
    topic: dict[str, Any],
    kind: int,
    owner: dict[str, Any],
    users: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    author = users[post["user_id"]]
    acting = users[action["user_id"]]
    first = next(
        (
            p
            for p in the_forum.table("posts").values()
            if p["topic_id"] == topic["id"] and p["post_number"] == 1
        ),
        post,
    )
    deleted = bool(post.get("deleted_at") or first.get("deleted_at") or topic.get("deleted_at"))
    return {
        "excerpt": excerpt(post["raw"], 300),
        "action_type": kind,
        "created_at": action["created_at"],
        "avatar_template": avatar_template(author),
        "acting_avatar_template": avatar_template(acting),
        "slug": topic["slug"],
        "topic_id": topic["id"],
        "target_user_id": owner["id"],
        "target_name": owner.get("name"),
        "target_username": owner["username"],
        "post_number": post["post_number"],
        "post_id": post["id"],
        "username": author["username"],
        "name": author.get("name"),
        "user_id": author["id"],
        "acting_username": acting["username"],
        "acting_name": acting.get("name"),
        "acting_user_id": acting["id"],
        "title": topic["title"],
        "deleted": deleted,
        "hidden": bool(post.get("hidden")),
        "post_type": post.get("post_type", 1),
        "action_code": post.get("action_code"),
        "category_id": topic["category_id"],
        "closed": bool(topic.get("closed")),
        "archived": bool(topic.get("archived")),
    }
