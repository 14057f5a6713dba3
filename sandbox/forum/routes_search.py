"""GET /search.json?q=: term match on titles and raw, with #category, tags:, @user, in:title."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from sandbox.forum.http import (
    current_user,
    forum,
    int_param,
    json_response,
    missing,
    route,
    text_param,
)
from sandbox.forum.serial_people import avatar_template
from sandbox.forum.serial_posts import excerpt, likes_of
from sandbox.forum.serial_topics import tag_objects, topic_list_item
from sandbox.forum.visibility import public_topic

PAGE_SIZE = 50


def register(app: Flask) -> None:
    route(app, "/search", ["GET"])(search)


def _parse(query: str) -> tuple[list[str], dict[str, str]]:
    words, filters = [], {}
    for token in query.split():
        if token.startswith("#") and len(token) > 1:
            filters["category"] = token[1:].lower()
        elif token.lower().startswith(("tags:", "tag:")):
            filters["tag"] = token.split(":", 1)[1].lower()
        elif token.startswith("@") and len(token) > 1:
            filters["user"] = token[1:].lower()
        elif token.lower() == "in:title":
            filters["in"] = "title"
        else:
            words.append(token.lower())
    return words, filters


def search() -> Response:
    the_forum = forum()
    user = current_user()
    query = text_param("q") or text_param("term")
    if not query:
        raise missing("q")
    words, filters = _parse(query)
    categories = {c["slug"]: c["id"] for c in the_forum.table("categories").values()}
    users = the_forum.table("users")
    hits: list[dict[str, Any]] = []
    for post in sorted(the_forum.table("posts").values(), key=lambda p: -p["id"]):
        topic = the_forum.table("topics")[post["topic_id"]]
        if post.get("deleted_at") or not public_topic(the_forum, topic, user):
            continue
        if "category" in filters and topic["category_id"] != categories.get(filters["category"]):
            continue
        if "tag" in filters and filters["tag"] not in topic.get("tags", []):
            continue
        author = users.get(post["user_id"]) or users[-1]
        if "user" in filters and author["username"].lower() != filters["user"]:
            continue
        if filters.get("in") == "title" and post["post_number"] != 1:
            continue
        text = (
            topic["title"].lower()
            if filters.get("in") == "title"
            else (f"{topic['title']} {post['raw']}".lower())
        )
        if all(w in text for w in words):
            hits.append(post)
    page = max(1, int_param("page") or 1)
    chunk = hits[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    topic_ids = list(dict.fromkeys(p["topic_id"] for p in chunk))
    topics = [the_forum.table("topics")[i] for i in topic_ids]
    tag_names = sorted({n for t in topics for n in t.get("tags", [])})
    posts = [
        {
            "id": p["id"],
            "name": (users.get(p["user_id"]) or {}).get("name"),
            "username": (users.get(p["user_id"]) or users[-1])["username"],
            "avatar_template": avatar_template(users.get(p["user_id"]) or users[-1]),
            "created_at": p["created_at"],
            "like_count": len(likes_of(the_forum, p)),
            "blurb": excerpt(p["raw"], 200),
            "post_number": p["post_number"],
            "topic_title_headline": the_forum.table("topics")[p["topic_id"]]["title"],
            "topic_id": p["topic_id"],
        }
        for p in chunk
    ]
    return json_response(
        {
            "posts": posts,
            "topics": [topic_list_item(the_forum, t) for t in topics],
            "users": [],
            "categories": [],
            "tags": tag_objects(the_forum, tag_names),
            "groups": [],
            "grouped_search_result": {
                "more_posts": None,
                "more_users": None,
                "more_categories": None,
                "term": query,
                "search_log_id": 0,
                "more_full_page_results": None,
                "can_create_topic": user is not None,
                "error": None,
                "post_ids": [p["id"] for p in chunk],
                "user_ids": [],
                "category_ids": [],
                "tag_ids": [t["id"] for t in tag_objects(the_forum, tag_names)],
                "group_ids": [],
            },
        }
    )
