"""Topics: TopicViewSerializer (/t/{id}.json), topic list items, basic and webhook topics."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from sandbox.forum.serial_people import user_basic
from sandbox.forum.serial_posts import excerpt, likes_of, post_json
from sandbox.forum.visibility import public_topic

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

CHUNK_SIZE = 20


def visible_posts(
    forum: Forum, topic: dict[str, Any], viewer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    posts = [
        p
        for p in forum.table("posts").values()
        if p["topic_id"] == topic["id"] and (staff or not p.get("deleted_at"))
    ]
    return sorted(posts, key=lambda p: p["post_number"])


def tag_objects(forum: Forum, names: list[str]) -> list[dict[str, Any]]:
    """A topic's ``tags`` in the one form the sandbox uses everywhere (topic view, topic
    lists, suggested topics, webhooks): current core's TopicTagsMixin objects with id, name
    and slug. Real sites on versions up to 2024 sent bare names (the 2023 Fedora
    recordings do); clients should accept both."""
    by_name = {t["name"]: t for t in forum.table("tags").values()}
    return [{"id": by_name[n]["id"], "name": n, "slug": n} for n in names if n in by_name]


DESCRIPTION_LIMIT = 80


def tags_descriptions(forum: Forum, names: list[str]) -> dict[str, str]:
    """TopicTagsMixin#tags_descriptions: tag name -> description (cut at 80), for the
    topic's tags that have one."""
    by_name = {t["name"]: t for t in forum.table("tags").values()}
    found = {}
    for name in names:
        description = (by_name.get(name) or {}).get("description")
        if description:
            cut = description[: DESCRIPTION_LIMIT - 3] + "..."
            found[name] = description if len(description) <= DESCRIPTION_LIMIT else cut
    return found


def topic_like_count(forum: Forum, topic: dict[str, Any]) -> int:
    return sum(len(likes_of(forum, p)) for p in visible_posts(forum, topic, None))


def basic_topic(topic: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": topic["id"],
        "title": topic["title"],
        "fancy_title": html.escape(topic["title"]),
        "slug": topic["slug"],
        "posts_count": topic["posts_count"],
    }


def _topic_fields(forum: Forum, topic: dict[str, Any]) -> dict[str, Any]:
    """The topic attributes TopicViewSerializer and the webhook topic share."""
    posts = visible_posts(forum, topic, None)
    return basic_topic(topic) | {
        "created_at": topic["created_at"],
        "views": topic.get("views", 0),
        "reply_count": max(0, len(posts) - 1),
        "like_count": topic_like_count(forum, topic),
        "last_posted_at": topic["last_posted_at"],
        "visible": topic["visible"],
        "closed": topic["closed"],
        "archived": topic["archived"],
        "archetype": topic["archetype"],
        "category_id": topic["category_id"],
        "word_count": sum(len(p["raw"].split()) for p in posts),
        "deleted_at": topic.get("deleted_at"),
        "user_id": topic["user_id"],
        "featured_link": topic.get("embed_url"),
        "pinned_globally": topic.get("pinned_globally", False),
        "pinned_at": topic.get("pinned_at"),
        "pinned_until": topic.get("pinned_until"),
        "unpinned": None,
        "pinned": bool(topic.get("pinned_at")),
        "highest_post_number": topic["highest_post_number"],
        "deleted_by": None,
        "bookmarked": False,
        "participant_count": len({p["user_id"] for p in posts}),
        "thumbnails": None,
        "tags": tag_objects(forum, topic.get("tags", [])),
        "tags_descriptions": tags_descriptions(forum, topic.get("tags", [])),
    }


def _participants(forum: Forum, posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users = forum.table("users")
    tally: dict[int, int] = {}
    for p in posts:
        tally[p["user_id"]] = tally.get(p["user_id"], 0) + 1
    return [
        user_basic(users[uid])
        | {
            "post_count": n,
            "primary_group_name": None,
            "flair_name": None,
            "flair_url": None,
            "flair_color": None,
            "flair_bg_color": None,
            "flair_group_id": None,
            "admin": bool(users[uid].get("admin")),
            "moderator": bool(users[uid].get("moderator")),
            "trust_level": users[uid]["trust_level"],
        }
        for uid, n in sorted(tally.items(), key=lambda item: -item[1])
        if uid in users
    ]


def topic_view(
    forum: Forum, topic: dict[str, Any], viewer: dict[str, Any] | None, page: int
) -> dict[str, Any]:
    """GET /t/{id}.json: 20 posts of page ``page`` (1-based) and the full stream of post ids."""
    posts = visible_posts(forum, topic, viewer)
    chunk = posts[(page - 1) * CHUNK_SIZE : page * CHUNK_SIZE]
    users = forum.table("users")
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    last = users.get(posts[-1]["user_id"] if posts else topic["user_id"]) or users[-1]
    data = _topic_fields(forum, topic) | {
        "post_stream": {
            "posts": [post_json(forum, p, viewer, "topic") for p in chunk],
            "stream": [p["id"] for p in posts],
        },
        "timeline_lookup": [[1, 0]],
    }
    last_page = page * CHUNK_SIZE >= len(posts)
    suggested = suggested_topics(forum, topic, viewer) if last_page else []
    if suggested:
        # TopicViewSerializer: suggested topics come with the last page only.
        data["suggested_topics"] = suggested
    data |= {
        "has_summary": False,
        "image_url": None,
        "slow_mode_seconds": 0,
        "draft": None,
        "draft_key": f"topic_{topic['id']}",
        "draft_sequence": 0,
        "current_post_number": chunk[0]["post_number"] if chunk else 1,
        "actions_summary": [
            {"id": type_id, "count": 0, "hidden": False, "can_act": bool(viewer)}
            for type_id in (4, 8, 7)
        ],
        "chunk_size": CHUNK_SIZE,
        "bookmarks": [],
        "topic_timer": None,
        "message_bus_last_id": 0,
        "show_read_indicator": False,
        "slow_mode_enabled_until": None,
        "tags_disable_ads": False,
        "details": _details(forum, topic, viewer, posts, last),
    }
    if staff:
        # include_has_deleted?: only for those who may see deleted posts.
        data["has_deleted"] = any(p.get("deleted_at") for p in posts)
    if topic.get("accepted_answer_post_id"):
        data["accepted_answer"] = accepted_answer(forum, topic)
    return data


def _details(
    forum: Forum,
    topic: dict[str, Any],
    viewer: dict[str, Any] | None,
    posts: list[dict[str, Any]],
    last: dict[str, Any],
) -> dict[str, Any]:
    """TopicViewDetailsSerializer: ``can_edit`` and ``notification_level`` always, each other
    ``can_*`` only when true (the anonymous recording has none of them)."""
    users = forum.table("users")
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    owner = bool(viewer and viewer["id"] == topic["user_id"])
    message = topic["archetype"] == "private_message"
    abilities = {
        "can_move_posts": staff,
        "can_delete": staff,
        "can_remove_allowed_users": staff or (message and owner),
        "can_create_post": viewer is not None and not topic["closed"],
        "can_reply_as_new_topic": viewer is not None,
        "can_convert_topic": staff,
        "can_review_topic": staff,
        "can_close_topic": staff,
        "can_archive_topic": staff,
        "can_split_merge_topic": staff,
        "can_edit_staff_notes": staff,
        "can_toggle_topic_visibility": staff,
        "can_pin_unpin_topic": staff,
        "can_moderate_category": staff,
    }
    details: dict[str, Any] = {"can_edit": staff or owner, "notification_level": 1}
    details |= {name: True for name, allowed in abilities.items() if allowed}
    if viewer is not None and (staff or message):
        # include_can_remove_self_id?: whoever may remove allowed users from the topic.
        details["can_remove_self_id"] = viewer["id"]
    return details | {
        "participants": _participants(forum, posts),
        "created_by": user_basic(users.get(topic["user_id"]) or users[-1]),
        "last_poster": user_basic(last),
    }


SUGGESTED = 5  # SiteSetting.suggested_topics
# SuggestedTopicSerializer: a topic list item without these (as the t11 recording shows).
NOT_IN_SUGGESTED = ("has_summary", "last_poster_username", "pinned_globally")


def suggested_topics(
    forum: Forum, topic: dict[str, Any], viewer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Other listed topics, the latest bumped first. ``excerpt`` stays: current openapi.json
    (getTopic) requires it in suggested topics."""
    others = [
        t
        for t in forum.table("topics").values()
        if t["id"] != topic["id"] and public_topic(forum, t, viewer)
    ]
    others.sort(key=lambda t: (t["bumped_at"], t["id"]), reverse=True)
    items = []
    users = forum.table("users")
    for other in others[:SUGGESTED]:
        item = topic_list_item(forum, other)
        item["excerpt"] = _first_excerpt(forum, other)
        # SuggestedTopicSerializer embeds each poster's user instead of naming its id.
        item["posters"] = [
            {
                "extras": poster["extras"],
                "description": poster["description"],
                "user": user_basic(users.get(poster["user_id"]) or users[-1]),
            }
            for poster in item["posters"]
        ]
        items.append({k: v for k, v in item.items() if k not in NOT_IN_SUGGESTED})
    return items


def _first_excerpt(forum: Forum, topic: dict[str, Any]) -> str:
    posts = visible_posts(forum, topic, None)
    return excerpt(posts[0]["raw"]) if posts else ""


def accepted_answer(forum: Forum, topic: dict[str, Any]) -> dict[str, Any] | None:
    """The discourse-solved plugin's ``accepted_answer`` topic field."""
    post = forum.table("posts").get(topic.get("accepted_answer_post_id") or 0)
    if not post:
        return None
    author = forum.table("users").get(post["user_id"]) or {}
    return {
        "post_number": post["post_number"],
        "username": author.get("username"),
        "name": author.get("name"),
        "excerpt": excerpt(post["raw"]),
    }


def topic_list_item(forum: Forum, topic: dict[str, Any]) -> dict[str, Any]:
    """TopicListItemSerializer, key for key as recorded in /latest.json."""
    posts = visible_posts(forum, topic, None)
    users = forum.table("users")
    last = users.get(posts[-1]["user_id"] if posts else topic["user_id"]) or users[-1]
    posters = []
    poster_ids: list[int] = []
    for p in posts:
        if p["user_id"] not in poster_ids:
            poster_ids.append(p["user_id"])
    for position, uid in enumerate(poster_ids[:5]):
        roles = []
        if position == 0:
            roles.append("Original Poster")
        if uid == last["id"]:
            roles.append("Most Recent Poster")
        extras = "latest" if uid == last["id"] else None
        if position == 0 and len(poster_ids) == 1:
            extras = "latest single"
        posters.append(
            {
                "extras": extras or "",
                "description": ", ".join(roles) or "Frequent Poster",
                "user_id": uid,
                "primary_group_id": None,
                "flair_group_id": None,
            }
        )
    item = basic_topic(topic) | {
        "reply_count": max(0, len(posts) - 1),
        "highest_post_number": topic["highest_post_number"],
        "image_url": None,
        "created_at": topic["created_at"],
        "last_posted_at": topic["last_posted_at"],
        "bumped": True,
        "bumped_at": topic["bumped_at"],
        "archetype": topic["archetype"],
        "unseen": False,
        "pinned": bool(topic.get("pinned_at")),
        "unpinned": None,
        "visible": topic["visible"],
        "closed": topic["closed"],
        "archived": topic["archived"],
        "bookmarked": None,
        "liked": None,
        "tags": tag_objects(forum, topic.get("tags", [])),
        "tags_descriptions": tags_descriptions(forum, topic.get("tags", [])),
        "views": topic.get("views", 0),
        "like_count": topic_like_count(forum, topic),
        "has_summary": False,
        "last_poster_username": last["username"],
        "category_id": topic["category_id"],
        "pinned_globally": topic.get("pinned_globally", False),
        "featured_link": topic.get("embed_url"),
        "has_accepted_answer": bool(topic.get("accepted_answer_post_id")),
        "posters": posters,
    }
    if item["pinned"]:
        # include_excerpt?: list items carry an excerpt only for pinned topics.
        item["excerpt"] = excerpt(posts[0]["raw"]) if posts else ""
    return item


def webhook_topic(forum: Forum, topic: dict[str, Any]) -> dict[str, Any]:
    """WebHookTopicViewSerializer: topic fields without post_stream/details."""
    users = forum.table("users")
    posts = visible_posts(forum, topic, None)
    last = users.get(posts[-1]["user_id"] if posts else topic["user_id"]) or users[-1]
    data = _topic_fields(forum, topic) | {
        "created_by": user_basic(users.get(topic["user_id"]) or users[-1]),
        "last_poster": user_basic(last),
        "has_deleted": any(p.get("deleted_at") for p in visible_posts(forum, topic, users[-1])),
    }
    if topic.get("accepted_answer_post_id"):
        data["accepted_answer"] = accepted_answer(forum, topic)
    return data
