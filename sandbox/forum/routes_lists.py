"""Topic list routes (/latest, /c/…) and categories (/categories, /c/{id}/show)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from sandbox.forum.creation import add_category, next_category_position
from sandbox.forum.http import (
    ApiError,
    array_param,
    current_user,
    forum,
    hash_param,
    int_param,
    json_response,
    missing,
    not_found,
    param,
    record_not_found,
    redirect,
    require_staff,
    required,
    route,
    text_param,
)
from sandbox.forum.posting import slugify
from sandbox.forum.seed import new_category
from sandbox.forum.serial_categories import (
    GROUP_MODERATION,
    category_detail,
    category_list_entry,
    webhook_category,
)
from sandbox.forum.topic_lists import list_options, page_number, topic_list
from sandbox.forum.visibility import can_see_category


def register(app: Flask) -> None:
    route(app, "/latest", ["GET"])(latest)
    route(app, "/categories", ["GET"])(list_categories)
    route(app, "/categories", ["POST"])(create_category)
    route(app, "/categories/<int:category_id>", ["PUT"])(update_category)
    route(app, "/c/<int:category_id>/show", ["GET"])(show_category)
    route(app, "/c/<int:category_id>", ["GET"])(category_by_id)
    route(app, "/c/<path:slug_path>/<int:category_id>", ["GET"])(category_topics)
    route(app, "/c/<path:slug_path>/<int:category_id>/l/latest", ["GET"])(category_topics)
    route(app, "/c/<slug>", ["GET"])(category_by_slug)
    route(app, "/c/<slug>/l/latest", ["GET"])(category_by_slug)


def _list(keep: Callable[[dict[str, Any]], bool], base_path: str, **added: str) -> dict[str, Any]:
    """A page of topics for this request: its list options, its 0-based page."""
    options = list_options(request.args.to_dict()) | added
    page = page_number(request.args.to_dict())
    return topic_list(forum(), current_user(), keep, base_path, options, page)


def latest() -> Response:
    # ListController sets no_definitions for /latest (no category): it is in the next link.
    return json_response(_list(lambda t: True, "/latest", no_definitions="true"))


def _category_or_404(category_id: int) -> dict[str, Any]:
    category = forum().table("categories").get(category_id)
    if category is None or not can_see_category(forum(), category, current_user()):
        raise not_found()
    return category


def _category_slug_path(category: dict[str, Any]) -> str:
    """/c/<parent slugs>/<slug>/<id>, as Category#url builds it."""
    slugs = [category["slug"]]
    parent = forum().table("categories").get(category.get("parent_category_id") or 0)
    while parent is not None:
        slugs.insert(0, parent["slug"])
        parent = forum().table("categories").get(parent.get("parent_category_id") or 0)
    return f"/c/{'/'.join(slugs)}/{category['id']}"


def _query() -> str:
    return f"?{request.query_string.decode()}" if request.query_string else ""


def category_topics(slug_path: str, category_id: int) -> Response:
    """GET /c/{slug path}/{id}.json (list#category_default after set_category): the latest
    topics of the category and its subcategories; a wrong slug path is redirected to the
    right one with the query kept, as set_category does."""
    category = _category_or_404(category_id)
    path = _category_slug_path(category)
    if f"/c/{slug_path}/{category_id}" != path:
        return redirect(f"{path}.json{_query()}")
    ids = {category["id"]}
    if request.args.get("no_subcategories", "").lower() != "true":
        ids |= {
            c["id"]
            for c in forum().table("categories").values()
            if c.get("parent_category_id") == category["id"]
        }
    body = _list(lambda t: t["category_id"] in ids, f"{path}/l/latest")
    body.pop("flair_groups")
    return json_response(body)


def category_by_id(category_id: int) -> Response:
    """/c/{id}.json redirects to the slugged path (subcategories: parent/child), query kept."""
    category = _category_or_404(category_id)
    return redirect(f"{_category_slug_path(category)}.json{_query()}")


def category_by_slug(slug: str) -> Response:
    category = next((c for c in forum().table("categories").values() if c["slug"] == slug), None)
    if category is None:
        raise not_found()
    category = _category_or_404(category["id"])
    return category_topics(_category_slug_path(category)[3:].rsplit("/", 1)[0], category["id"])


def show_category(category_id: int) -> Response:
    return json_response({"category": category_detail(forum(), _category_or_404(category_id))})


def list_categories() -> Response:
    the_forum = forum()
    user = current_user()
    parent = int_param("parent_category_id")
    with_subs = str(param("include_subcategories", "")).lower() == "true"
    categories = [
        c
        for c in the_forum.table("categories").values()
        if can_see_category(the_forum, c, user) and c.get("parent_category_id") == parent
    ]
    categories.sort(key=lambda c: (c["position"], c["id"]))
    entries = []
    # categories#index: featured topics for a parent's subcategories (the default
    # subcategory_list_style shows them) or when asked for.
    with_topics = parent is not None or str(param("include_topics", "")).lower() == "true"
    for category in categories:
        entry = category_list_entry(the_forum, category, user, with_topics=with_topics)
        if with_subs:
            subs = [the_forum.table("categories")[i] for i in entry["subcategory_ids"]]
            entry["subcategory_list"] = [category_list_entry(the_forum, s, user) for s in subs]
        entries.append(entry)
    return json_response(
        {
            "category_list": {
                "can_create_category": bool(user and user.get("admin")),
                "can_create_topic": user is not None,
                "categories": entries,
            }
        }
    )


def _apply_fields(category: dict[str, Any]) -> None:
    for field in ("color", "text_color", "description"):
        value = text_param(field)
        if value is not None:
            category[field] = value.lstrip("#") if field != "description" else value
    for field in ("position", "search_priority"):
        number = int_param(field)
        if number is not None:
            category[field] = number
    permissions = hash_param("permissions")
    if permissions:
        category["permissions"] = {str(k): int(v) for k, v in permissions.items()}


def _requested_moderators() -> list[int] | None:
    """The ``moderating_group_ids[]`` of a category create or update, checked, or None when
    there is none to apply. categories#category_params permits the key only while
    enable_category_group_moderation is on; off, it is an unpermitted key, dropped without a
    word. On, ``category.update`` assigns it through the has_many :moderating_groups ids
    writer (Category overrides only the reader), which skips blank entries and raises
    ActiveRecord::RecordNotFound when an id names no group: a 404, nothing saved. A group id
    sent twice is kept once here (what Discourse does with one was not verified)."""
    if not forum().site_settings.get(GROUP_MODERATION):
        return None
    values = array_param("moderating_group_ids")
    if values is None:
        return None
    groups = forum().table("groups")
    wanted: list[int] = []
    for value in values:
        if value is None or str(value).strip() == "":
            continue
        try:
            group_id = int(value)
        except (TypeError, ValueError):
            raise record_not_found() from None
        if group_id not in groups:
            raise record_not_found()
        if group_id not in wanted:
            wanted.append(group_id)
    return wanted


def _moderators_after(category: dict[str, Any], wanted: list[int]) -> list[int]:
    """The association replaces its rows: the groups kept stay where they were and the new
    ones follow, in the order asked (the reader plucks the rows without an ORDER BY)."""
    kept = [g for g in category.get("moderating_group_ids", []) if g in wanted]
    return kept + [g for g in wanted if g not in kept]


def _check_unique(name: str, parent: int | None, exclude: int | None = None) -> None:
    for other in forum().table("categories").values():
        if (
            other["id"] != exclude
            and other["name"].lower() == name.lower()
            and other.get("parent_category_id") == parent
        ):
            raise ApiError(
                422,
                {
                    "errors": ["Category Name has already been taken"],
                    "error_type": "record_invalid",
                },
            )


def create_category() -> Response:
    require_staff()
    the_forum = forum()
    name = required("name")
    moderators = _requested_moderators()
    parent = int_param("parent_category_id")
    if parent is not None and parent not in the_forum.table("categories"):
        raise ApiError(
            422, {"errors": ["Parent category is invalid"], "error_type": "record_invalid"}
        )
    _check_unique(name, parent)
    slug = text_param("slug") or slugify(name)
    position = next_category_position(the_forum)
    category = new_category(name, slug, position=position, created_at=the_forum.now_iso())
    category["parent_category_id"] = parent
    _apply_fields(category)
    if moderators is not None:
        category["moderating_group_ids"] = moderators
    add_category(the_forum, category)
    return json_response({"category": category_detail(the_forum, category)})


def update_category(category_id: int) -> Response:
    require_staff()
    the_forum = forum()
    category = _category_or_404(category_id)
    moderators = _requested_moderators()
    name = text_param("name")
    parent = int_param("parent_category_id", category.get("parent_category_id"))
    if name is not None:
        if not name.strip():
            raise missing("name")
        _check_unique(name, parent, exclude=category_id)
        category["name"] = name
    category["parent_category_id"] = parent
    if text_param("slug"):
        category["slug"] = str(text_param("slug"))
    _apply_fields(category)
    if moderators is not None:
        category["moderating_group_ids"] = _moderators_after(category, moderators)
    the_forum.emit(
        "category",
        "category_updated",
        webhook_category(the_forum, category),
        category_id=category["id"],
    )
    return json_response({"success": "OK", "category": category_detail(the_forum, category)})
