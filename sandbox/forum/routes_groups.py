"""Group endpoints: create, list, show, members (paged), add and remove members."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response

from sandbox.forum.creation import add_group_member, group_user
from sandbox.forum.http import (
    ApiError,
    current_user,
    forum,
    hash_param,
    int_param,
    json_response,
    list_param,
    missing,
    not_found,
    param,
    require_admin,
    require_staff,
    route,
)
from sandbox.forum.seed import new_group
from sandbox.forum.serial_people import group_basic, group_detail, group_member_ids, user_basic

GROUP_NAME = re.compile(r"^[\w.-]{1,60}$")
MEMBERS_LIMIT = 50
MEMBERS_MAX_LIMIT = 1000
# groups#index: 36 a page (15 for mobile user agents, which API clients are not).
GROUPS_PAGE = 36
EVERYONE = 0
GROUP_FIELDS = [
    "full_name",
    "title",
    "bio_raw",
    "visibility_level",
    "members_visibility_level",
    "mentionable_level",
    "messageable_level",
    "primary_group",
    "public_admission",
    "public_exit",
    "allow_membership_requests",
    "default_notification_level",
    "grant_trust_level",
    "flair_url",
    "flair_bg_color",
    "flair_color",
]


def register(app: Flask) -> None:
    route(app, "/admin/groups", ["POST"])(create_group)
    route(app, "/admin/groups/<int:group_id>", ["DELETE"])(delete_group)
    route(app, "/groups", ["GET"])(list_groups)
    route(app, "/groups/search", ["GET"])(search_groups)
    route(app, "/groups/<name>", ["GET"])(show_group)
    route(app, "/groups/by-id/<int:group_id>", ["GET"])(show_group_by_id)
    route(app, "/groups/<name>/members", ["GET"])(members)
    route(app, "/groups/<int:group_id>", ["PUT"])(update_group)
    route(app, "/groups/<int:group_id>/members", ["PUT"])(add_members)
    route(app, "/groups/<int:group_id>/members", ["DELETE"])(remove_members)


def _coerce(field: str, value: Any) -> Any:
    if field.endswith("_level"):
        return int(value)
    if field in ("primary_group", "public_admission", "public_exit", "allow_membership_requests"):
        return str(value).lower() == "true" if not isinstance(value, bool) else value
    return value


def create_group() -> Response:
    """POST /admin/groups.json with ``group[...]`` fields (pydiscourse sends JSON)."""
    require_admin()
    the_forum = forum()
    fields = hash_param("group")
    if not fields or not fields.get("name"):
        raise missing("group")
    name = str(fields["name"])
    if not GROUP_NAME.match(name):
        raise ApiError(422, {"errors": ["Name is invalid"], "error_type": "record_invalid"})
    if any(g["name"].lower() == name.lower() for g in the_forum.table("groups").values()):
        raise ApiError(
            422, {"errors": ["Name has already been taken"], "error_type": "record_invalid"}
        )
    group = new_group(name)
    for field in GROUP_FIELDS:
        if fields.get(field) not in (None, ""):
            group[field] = _coerce(field, fields[field])
    the_forum.insert("groups", group)
    usernames = str(fields.get("usernames") or "")
    for username in filter(None, (n.strip() for n in usernames.split(","))):
        user = the_forum.user_by_username(username)
        if user:
            add_group_member(the_forum, group, user)
    basic = group_basic(the_forum, group, current_user())
    basic.pop("display_name")
    return json_response({"basic_group": basic})


def update_group(group_id: int) -> Response:
    """PUT /groups/{id}.json with ``group[...]`` fields (groups#update): staff may change a
    group's settings, only an admin its name; an automatic group keeps its name and full
    name. Answers ``{"success": "OK"}``; an invalid or taken name is a 422."""
    require_staff()
    the_forum = forum()
    group = the_forum.table("groups").get(group_id)
    if group is None:
        raise not_found()
    fields = hash_param("group")
    if not fields:
        raise missing("group")
    name = fields.get("name")
    if name not in (None, "") and not group["automatic"] and (current_user() or {}).get("admin"):
        name = str(name)
        if not GROUP_NAME.match(name):
            raise ApiError(422, {"errors": ["Name is invalid"], "error_type": "record_invalid"})
        taken = any(
            g["name"].lower() == name.lower() and g["id"] != group_id
            for g in the_forum.table("groups").values()
        )
        if taken:
            raise ApiError(
                422, {"errors": ["Name has already been taken"], "error_type": "record_invalid"}
            )
        group["name"] = name
    for field in GROUP_FIELDS:
        if field in fields and not (group["automatic"] and field == "full_name"):
            group[field] = _coerce(field, fields[field]) if fields[field] != "" else None
    return json_response({"success": "OK"})


def delete_group(group_id: int) -> Response:
    require_admin()
    group = forum().table("groups").get(group_id)
    if group is None or group["automatic"]:
        raise not_found()
    del forum().table("groups")[group_id]
    # Group has_many :category_moderation_groups, dependent: :destroy.
    for category in forum().table("categories").values():
        if group_id in category.get("moderating_group_ids", []):
            category["moderating_group_ids"].remove(group_id)
    return json_response({"success": "OK"})


def _visible_groups() -> list[dict[str, Any]]:
    """Every group but the internal "everyone" (0), which Discourse never lists."""
    groups = forum().table("groups").values()
    return sorted((g for g in groups if g["id"] != EVERYONE), key=lambda g: g["name"])


def list_groups() -> Response:
    """GET /groups.json (groups#index): 36 groups a page, ``page`` from 0; a page past the end
    is empty; ``load_more_groups`` always names the next page (groups_path with the page and
    the request's type/order/asc/filter, keys sorted by to_query)."""
    user = current_user()
    everything = _visible_groups()
    page = max(0, int_param("page") or 0)
    shown = everything[page * GROUPS_PAGE : (page + 1) * GROUPS_PAGE]
    groups = [group_basic(forum(), g, user) for g in shown]
    for data, group in zip(groups, shown, strict=True):
        data["is_group_user"] = bool(user and user["id"] in group_member_ids(forum(), group))
        data["is_group_owner"] = bool(user and user["id"] in group.get("owner_ids", []))
        data["can_edit_group"] = bool(user and user.get("admin"))
    kept = {k: str(param(k)) for k in ("asc", "filter", "order", "type") if param(k)}
    query = urlencode(sorted({**kept, "page": str(page + 1)}.items()))
    return json_response(
        {
            "groups": groups,
            "extras": {
                "type_filters": ["my", "owner", "public", "close", "automatic", "non_automatic"]
            },
            "total_rows_groups": len(everything),
            "load_more_groups": f"/groups?{query}",
        }
    )


def search_groups() -> Response:
    term = str(param("term") or "").lower()
    return json_response(
        [group_basic(forum(), g) for g in _visible_groups() if term in g["name"].lower()]
    )


def _group_named(name: str) -> dict[str, Any]:
    group = next(
        (g for g in forum().table("groups").values() if g["name"].lower() == name.lower()), None
    )
    if group is None:
        raise not_found()
    return group


def _show(group: dict[str, Any]) -> Response:
    names = [g["name"] for g in _visible_groups()]
    return json_response(
        {
            "group": group_detail(forum(), group, current_user()),
            "extras": {"visible_group_names": names},
        }
    )


def show_group(name: str) -> Response:
    return _show(_group_named(name))


def show_group_by_id(group_id: int) -> Response:
    group = forum().table("groups").get(group_id)
    if group is None:
        raise not_found()
    return _show(group)


def _member_json(group: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    added = group.get("added_at", {}).get(str(user["id"])) or user["created_at"]
    return user_basic(user) | {
        "name": user.get("name"),
        "title": user.get("title"),
        "last_posted_at": user.get("last_posted_at") or user["created_at"],
        "last_seen_at": user.get("last_seen_at") or user["created_at"],
        "added_at": added,
        "timezone": "UTC",
    }


def _paging(name: str, default: int) -> int:
    """groups#members refuses a negative offset and a limit outside 0..1000 with 400."""
    value = param(name)
    if value in (None, ""):
        return default
    text = str(value)
    number = int(text) if text.lstrip("-").isdigit() else -1
    if number < 0 or (name == "limit" and number > MEMBERS_MAX_LIMIT):
        raise ApiError(
            400,
            {
                "errors": [f"You supplied invalid parameters to the request: {name}"],
                "error_type": "invalid_parameters",
            },
        )
    return number


def members(name: str) -> Response:
    """GET /groups/{name}/members.json?offset=&limit=: ``limit`` members from ``offset``
    (default 50 from 0), the owners, and meta.total/limit/offset as groups#members sends."""
    group = _group_named(name)
    users = forum().table("users")
    ids = [i for i in group_member_ids(forum(), group) if i in users]
    limit = _paging("limit", MEMBERS_LIMIT)
    offset = _paging("offset", 0)
    page = ids[offset : offset + limit]
    owners = [i for i in group.get("owner_ids", []) if i in users]
    return json_response(
        {
            "members": [_member_json(group, users[i]) for i in page],
            "owners": [_member_json(group, users[i]) for i in owners],
            "meta": {"total": len(ids), "limit": limit, "offset": offset},
        }
    )


def _named_users() -> list[dict[str, Any]]:
    names = list_param("usernames")
    text = ",".join(names) if names else ""
    usernames = [n.strip() for n in text.split(",") if n.strip()]
    if not usernames:
        raise missing("usernames")
    users = []
    for username in usernames:
        user = forum().user_by_username(username)
        if user is None:
            raise ApiError(400, {"errors": [f"Could not find user {username}"]})
        users.append(user)
    return users


def _editable(group_id: int) -> dict[str, Any]:
    require_staff()
    group = forum().table("groups").get(group_id)
    if group is None:
        raise not_found()
    if group["automatic"]:
        raise ApiError(
            422,
            {"errors": ["You cannot modify an automatic group"], "error_type": "record_invalid"},
        )
    return group


def add_members(group_id: int) -> Response:
    """PUT /groups/{id}/members.json usernames=a,b; any existing member → 422."""
    group = _editable(group_id)
    users = _named_users()
    already = [u["username"] for u in users if u["id"] in group["user_ids"]]
    if already:
        raise ApiError(
            422,
            {
                "errors": [f"{', '.join(already)} is already a member of this group"],
                "error_type": "record_invalid",
            },
        )
    for user in users:
        add_group_member(forum(), group, user)
    return json_response(
        {"success": "OK", "usernames": [u["username"] for u in users], "emails": []}
    )


def remove_members(group_id: int) -> Response:
    group = _editable(group_id)
    users = _named_users()
    removed, skipped = [], []
    for user in users:
        if user["id"] in group["user_ids"]:
            payload = group_user(forum(), group, user)
            group["user_ids"].remove(user["id"])
            group.get("added_at", {}).pop(str(user["id"]), None)
            forum().emit("group_user", "user_removed_from_group", payload, group_ids=[group["id"]])
            removed.append(user["username"])
        else:
            skipped.append(user["username"])
    return json_response({"success": "OK", "usernames": removed, "skipped_usernames": skipped})
