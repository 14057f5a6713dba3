"""Tags and tag groups (newest shape: tags as objects with id, name and slug).

Staff may rename a tag (PUT /tag/{name}, Discourse's TagsController#update) and give it
synonyms (POST /tag/{name}/synonyms): a synonym is a tag whose ``target_tag_id`` is the
tag, and topics that had it carry the target instead.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from sandbox.forum.http import (
    ApiError,
    bool_param,
    current_user,
    forum,
    hash_param,
    invalid,
    json_response,
    list_param,
    missing,
    not_found,
    param,
    require_staff,
    route,
    text_param,
)
from sandbox.forum.posting import clean_tag, ensure_tags
from sandbox.forum.seed import new_tag_group
from sandbox.forum.topic_lists import list_options, page_number, topic_list
from sandbox.forum.visibility import public_topic


def register(app: Flask) -> None:
    route(app, "/tags", ["GET"])(list_tags)
    route(app, "/tag/<name>", ["GET"])(tag_topics)
    route(app, "/tag/<name>", ["PUT"])(rename_tag)
    route(app, "/tag/<name>/info", ["GET"])(tag_info)
    route(app, "/tag/<name>/synonyms", ["POST"])(add_synonyms)
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
                    "target_tag": _target_name(t),
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
    args = request.args.to_dict()
    body = topic_list(
        forum(),
        current_user(),
        lambda t: tag["name"] in t.get("tags", []),
        f"/tag/{tag['name']}",
        list_options(args),
        page_number(args),
    )
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
    group = new_tag_group("")
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


def _tag_or_404(name: str) -> dict[str, Any]:
    tag = next((t for t in forum().table("tags").values() if t["name"] == name.lower()), None)
    if tag is None:
        raise not_found()
    return tag


def _target_name(tag: dict[str, Any]) -> str | None:
    target = forum().table("tags").get(tag.get("target_tag_id") or 0)
    return str(target["name"]) if target else None


def _tag_json(tag: dict[str, Any]) -> dict[str, Any]:
    """Discourse's TagSerializer (the tag_* webhook payload too)."""
    return {
        "id": tag["id"],
        "name": tag["name"],
        "topic_count": _topic_count(tag["name"]),
        "staff": False,
        "description": tag.get("description"),
    }


def rename_tag(name: str) -> Response:
    """TagsController#update: ``tag[id]`` is the new name (cleaned), ``tag[description]``."""
    require_staff()
    the_forum = forum()
    tag = _tag_or_404(name)
    fields = hash_param("tag") or {}
    new_name = clean_tag(the_forum, str(fields.get("id") or tag["name"]))
    if not new_name:
        raise invalid("Name can't be blank")
    old_name = tag["name"]
    if new_name != old_name:
        if any(t["name"] == new_name for t in the_forum.table("tags").values()):
            raise invalid("Name has already been taken")
        with the_forum.lock:
            tag["name"] = new_name
            for topic in the_forum.table("topics").values():
                topic["tags"] = [new_name if n == old_name else n for n in topic.get("tags", [])]
            for group in the_forum.table("tag_groups").values():
                for key in ("tag_names", "parent_tag_name"):
                    group[key] = [new_name if n == old_name else n for n in group[key]]
    if "description" in fields:
        tag["description"] = fields["description"] or None
    the_forum.emit("tag", "tag_updated", _tag_json(tag), tag_names=[new_name])
    return json_response({"tag": {"id": tag["name"], "description": tag.get("description")}})


def add_synonyms(name: str) -> Response:
    """TagsController#create_synonyms: existing tags become synonyms (their topics move to
    the target), unknown names are created as synonyms."""
    user = require_staff()
    the_forum = forum()
    target = _tag_or_404(name)
    failed: dict[str, str] = {}
    for raw_name in list_param("synonyms") or []:
        synonym_name = clean_tag(the_forum, raw_name)
        if not synonym_name or synonym_name == target["name"]:
            continue  # Discourse drops the target's own name from the list
        tags = the_forum.table("tags")
        synonym = next((t for t in tags.values() if t["name"] == synonym_name), None)
        if synonym is None:
            ensure_tags(the_forum, [synonym_name], user)
            synonym = next(t for t in tags.values() if t["name"] == synonym_name)
        # Tag#target_tag_validator (full messages; the wording is ours).
        if any(t.get("target_tag_id") == synonym["id"] for t in tags.values()):
            failed[synonym_name] = "Target tag cannot be set: this tag has synonyms"
            continue
        if target.get("target_tag_id"):
            failed[synonym_name] = "Target tag cannot be set: the target is a synonym"
            continue
        with the_forum.lock:
            synonym["target_tag_id"] = target["id"]
            for topic in the_forum.table("topics").values():
                names = topic.get("tags", [])
                if synonym_name in names:
                    moved = [target["name"] if n == synonym_name else n for n in names]
                    topic["tags"] = list(dict.fromkeys(moved))
    if failed:
        return json_response({"failed": "FAILED", "failed_tags": failed})
    return json_response({"success": "OK"})


def tag_info(name: str) -> Response:
    """TagsController#info (DetailedTagSerializer, root "tag_info")."""
    the_forum = forum()
    tag = _tag_or_404(name)
    synonyms = [
        _tag_json(t)
        for t in sorted(the_forum.table("tags").values(), key=lambda t: t["name"])
        if t.get("target_tag_id") == tag["id"]
    ]
    groups = sorted(
        g["name"]
        for g in the_forum.table("tag_groups").values()
        if tag["name"] in g["tag_names"] or tag["name"] in g["parent_tag_name"]
    )
    info = {
        **_tag_json(tag),
        "synonyms": synonyms,
        "tag_group_names": groups,
        "category_ids": [],
        "category_restricted": False,
    }
    return json_response({"tag_info": info})
