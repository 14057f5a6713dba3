"""Tags and tag groups (newest shape: tags as objects with id, name and slug)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from sandbox.forum.http import (
    ApiError,
    bool_param,
    forum,
    json_response,
    list_param,
    missing,
    not_found,
    param,
    require_staff,
    route,
    text_param,
)
from sandbox.forum.posting import ensure_tags
from sandbox.forum.routes_lists import topic_list
from sandbox.forum.visibility import public_topic


def register(app: Flask) -> None:
    route(app, "/tags", ["GET"])(list_tags)
    route(app, "/tag/<name>", ["GET"])(tag_topics)
    route(app, "/tag_groups", ["GET"])(list_tag_groups)
    route(app, "/tag_groups", ["POST"])(create_tag_group)
    route(app, "/tag_groups/<int:group_id>", ["GET"])(show_tag_group)
    route(app, "/tag_groups/<int:group_id>", ["PUT"])(update_tag_group)


def _topic_count(name: str) -> int:
    the_forum = forum()
    return sum(
        1
        for t in the_forum.table("topics").values()
        if name in t.get("tags", []) and public_topic(the_forum, t, None)
    )


def list_tags() -> Response:
    tags = sorted(forum().table("tags").values(), key=lambda t: t["name"])
    return json_response(
        {
            "tags": [
                {
                    "id": t["id"],
                    "text": t["name"],
                    "name": t["name"],
                    "count": _topic_count(t["name"]),
                    "pm_count": 0,
                    "target_tag": None,
                }
                for t in tags
            ],
            "extras": {"categories": []},
        }
    )


def tag_topics(name: str) -> Response:
    tag = next((t for t in forum().table("tags").values() if t["name"] == name.lower()), None)
    if tag is None:
        raise not_found()
    body = topic_list(lambda t: tag["name"] in t.get("tags", []), f"/tag/{tag['name']}")
    body["topic_list"]["tags"] = [
        {
            "id": tag["id"],
            "name": tag["name"],
            "topic_count": _topic_count(tag["name"]),
            "staff": False,
        }
    ]
    return json_response(body)


def _tag_refs(names: list[str]) -> list[dict[str, Any]]:
    by_name = {t["name"]: t for t in forum().table("tags").values()}
    return [{"id": by_name[n]["id"], "name": n, "slug": n} for n in names if n in by_name]


def tag_group_json(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": group["id"],
        "name": group["name"],
        "tags": _tag_refs(group["tag_names"]),
        "parent_tag": _tag_refs(group["parent_tag_name"]),
        "one_per_topic": group["one_per_topic"],
        "permissions": group["permissions"],
    }


def list_tag_groups() -> Response:
    require_staff()
    groups = sorted(forum().table("tag_groups").values(), key=lambda g: g["name"])
    return json_response({"tag_groups": [tag_group_json(g) for g in groups]})


def _fields(group: dict[str, Any]) -> None:
    user = require_staff()
    body = param("tag_group")
    nested = body if isinstance(body, dict) else {}

    def names(key: str) -> list[str] | None:
        value = list_param(key)
        if value is None and isinstance(nested.get(key), list):
            value = [str(v) for v in nested[key]]
        return value

    tag_names = names("tag_names")
    if tag_names is not None:
        group["tag_names"] = ensure_tags(forum(), tag_names, user)
    parent = names("parent_tag_name")
    if parent is not None:
        group["parent_tag_name"] = ensure_tags(forum(), parent, user)[:1]
    if param("one_per_topic") is not None or "one_per_topic" in nested:
        group["one_per_topic"] = bool_param("one_per_topic") or nested.get("one_per_topic") is True
    name = text_param("name") or nested.get("name")
    if name:
        group["name"] = str(name)


def create_tag_group() -> Response:
    require_staff()
    body = param("tag_group")
    if not (text_param("name") or (isinstance(body, dict) and body.get("name"))):
        raise missing("name")
    group: dict[str, Any] = {
        "name": "",
        "tag_names": [],
        "parent_tag_name": [],
        "one_per_topic": False,
        "permissions": {"everyone": 1},
    }
    _fields(group)
    if any(
        g["name"].lower() == group["name"].lower() for g in forum().table("tag_groups").values()
    ):
        raise ApiError(
            422, {"errors": ["Name has already been taken"], "error_type": "record_invalid"}
        )
    forum().insert("tag_groups", group)
    return json_response({"tag_group": tag_group_json(group)})


def _group_or_404(group_id: int) -> dict[str, Any]:
    require_staff()
    group = forum().table("tag_groups").get(group_id)
    if group is None:
        raise not_found()
    return group


def show_tag_group(group_id: int) -> Response:
    return json_response({"tag_group": tag_group_json(_group_or_404(group_id))})


def update_tag_group(group_id: int) -> Response:
    group = _group_or_404(group_id)
    _fields(group)
    return json_response({"success": "OK", "tag_group": tag_group_json(group)})
