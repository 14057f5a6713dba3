"""Topic endpoints: read (20-post pages + full stream), posts, update, tags, status, delete."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from sandbox.forum.http import (
    ApiError,
    bool_param,
    current_user,
    empty_response,
    forum,
    int_param,
    invalid_access,
    json_response,
    list_param,
    missing,
    not_found,
    param,
    redirect,
    require_staff,
    require_user,
    route,
    text_param,
)
from sandbox.forum.posting import destroy_post, emit_topic, revise, topic_posts
from sandbox.forum.serial_posts import post_json
from sandbox.forum.serial_topics import CHUNK_SIZE, basic_topic, topic_view, visible_posts
from sandbox.forum.visibility import can_see_topic

STATUSES = ("closed", "pinned", "pinned_globally", "archived", "visible")


def register(app: Flask) -> None:
    route(app, "/t/<int:topic_id>", ["GET"])(show_topic)
    route(app, "/t/<slug>/<int:topic_id>", ["GET"])(show_topic_slug)
    route(app, "/t/<slug>/<int:topic_id>/<int:post_number>", ["GET"])(show_topic_at)
    route(app, "/t/<int:topic_id>/posts", ["GET"])(topic_posts_endpoint)
    route(app, "/t/<int:topic_id>", ["PUT"])(update_topic)
    route(app, "/t/<slug>/<int:topic_id>", ["PUT"])(update_topic_slug)
    route(app, "/t/<int:topic_id>/tags", ["PUT"])(update_tags)
    route(app, "/t/<int:topic_id>/status", ["PUT"])(update_status)
    route(app, "/t/<int:topic_id>", ["DELETE"])(delete_topic)
    route(app, "/t/<int:topic_id>/recover", ["PUT"])(recover_topic)
    route(app, "/t/external_id/<external_id>", ["GET"])(topic_by_external_id)


def _topic_or_404(topic_id: int) -> dict[str, Any]:
    the_forum = forum()
    topic = the_forum.table("topics").get(topic_id)
    if topic is None or not can_see_topic(the_forum, topic, current_user()):
        raise not_found()
    return topic


def show_topic(topic_id: int, slug: str | None = None) -> Response:
    topic = _topic_or_404(topic_id)
    if slug is not None and slug != topic["slug"]:
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        return redirect(f"/t/{topic['slug']}/{topic['id']}.json{query}")
    page = int_param("page") or 1
    posts = visible_posts(forum(), topic, current_user())
    last_page = max(1, -(-len(posts) // CHUNK_SIZE))
    if page < 1 or page > last_page:
        raise not_found()
    return json_response(topic_view(forum(), topic, current_user(), page))


def show_topic_slug(slug: str, topic_id: int) -> Response:
    return show_topic(topic_id, slug)


def show_topic_at(slug: str, topic_id: int, post_number: int) -> Response:
    """/t/{slug}/{id}/{post_number}.json: the chunk holding that post."""
    topic = _topic_or_404(topic_id)
    posts = visible_posts(forum(), topic, current_user())
    index = next((i for i, p in enumerate(posts) if p["post_number"] >= post_number), 0)
    return json_response(topic_view(forum(), topic, current_user(), index // CHUNK_SIZE + 1))


def topic_posts_endpoint(topic_id: int) -> Response:
    """GET /t/{id}/posts.json?post_ids[]=…: the asked posts of the topic, in stream order."""
    topic = _topic_or_404(topic_id)
    user = current_user()
    posts = visible_posts(forum(), topic, user)
    wanted = list_param("post_ids")
    if wanted is not None:
        ids = {int(i) for i in wanted if str(i).isdigit()}
        posts = [p for p in posts if p["id"] in ids]
    else:
        start = int_param("post_number")
        if start is not None:
            asc = bool_param("asc", True)
            posts = [
                p for p in posts if (p["post_number"] > start if asc else p["post_number"] < start)
            ]
            posts = posts[:CHUNK_SIZE] if asc else posts[-CHUNK_SIZE:]
        else:
            posts = posts[:CHUNK_SIZE]
    rendered = [post_json(forum(), p, user, "topic") for p in posts]
    if bool_param("include_raw"):
        for data, post in zip(rendered, posts, strict=True):
            data["raw"] = post["raw"]
    return json_response({"post_stream": {"posts": rendered}, "id": topic["id"]})


def update_topic(topic_id: int, slug: str | None = None) -> Response:
    """PUT /t/{slug}/{id}.json (also /t/-/{id} and /t/{id}): title, category_id, tags[]."""
    user = require_user()
    topic = _topic_or_404(topic_id)
    if not (user.get("admin") or user.get("moderator") or user["id"] == topic["user_id"]):
        raise invalid_access()
    nested = param("topic")
    fields = nested if isinstance(nested, dict) else {}
    title = text_param("title") or fields.get("title")
    category = int_param("category_id") or fields.get("category_id")
    tags = list_param("tags")
    if tags is None and isinstance(fields.get("tags"), list):
        tags = [str(t) for t in fields["tags"]]
    first = topic_posts(forum(), topic["id"])[0]
    revise(
        forum(),
        first,
        title=title,
        category_id=int(category) if category else None,
        tags=tags,
        editor=user,
    )
    return json_response({"basic_topic": basic_topic(topic)})


def update_topic_slug(slug: str, topic_id: int) -> Response:
    return update_topic(topic_id, slug)


def update_tags(topic_id: int) -> Response:
    user = require_user()
    topic = _topic_or_404(topic_id)
    tags = list_param("tags")
    if tags is None:
        raise missing("tags")
    first = topic_posts(forum(), topic["id"])[0]
    revise(forum(), first, tags=tags, editor=user)
    return json_response({"basic_topic": basic_topic(topic)})


def update_status(topic_id: int) -> Response:
    """PUT /t/{id}/status.json: status + enabled (+ until for pins)."""
    require_staff()
    topic = _topic_or_404(topic_id)
    status = text_param("status")
    if status is None:
        raise missing("status")
    enabled = text_param("enabled")
    if enabled is None:
        raise missing("enabled")
    if status not in STATUSES:
        raise ApiError(400, {"errors": [f"status is invalid: {status}"]})
    on = enabled.lower() == "true"
    if status in ("pinned", "pinned_globally"):
        topic["pinned_at"] = forum().now_iso() if on else None
        topic["pinned_globally"] = on and status == "pinned_globally"
        topic["pinned_until"] = text_param("until") if on else None
    else:
        topic[status] = on
    emit_topic(forum(), f"topic_{status}_status_updated", topic)
    return json_response({"success": "OK", "topic_status_update": None})


def delete_topic(topic_id: int) -> Response:
    user = require_user()
    topic = _topic_or_404(topic_id)
    if not (user.get("admin") or user.get("moderator") or user["id"] == topic["user_id"]):
        raise invalid_access()
    destroy_post(forum(), topic_posts(forum(), topic["id"])[0])
    return empty_response()


def recover_topic(topic_id: int) -> Response:
    from sandbox.forum.posting import recover_post

    require_staff()
    topic = _topic_or_404(topic_id)
    recover_post(forum(), topic_posts(forum(), topic["id"])[0])
    return empty_response()


def topic_by_external_id(external_id: str) -> Response:
    wanted = external_id.lower()
    topic = next(
        (
            t
            for t in forum().table("topics").values()
            if str(t.get("external_id") or "").lower() == wanted
        ),
        None,
    )
    if topic is None or not can_see_topic(forum(), topic, current_user()):
        raise not_found()
    query = f"?{request.query_string.decode()}" if request.query_string else ""
    return redirect(f"/t/{topic['slug']}/{topic['id']}.json{query}")
