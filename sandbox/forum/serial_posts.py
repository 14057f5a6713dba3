"""Posts as PostSerializer sends them, in the variants each endpoint uses, and the webhook post.

The openapi schemas differ per endpoint (some forbid extra keys), so each variant adds exactly
the keys its endpoint declares on top of the common PostSerializer core.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandbox.forum.scoring import post_score
from sandbox.forum.serial_people import avatar_template

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

LIKE = 2
WEBHOOK_POST_KEYS = [
    "id",
    "name",
    "username",
    "avatar_template",
    "created_at",
    "cooked",
    "post_number",
    "post_type",
    "posts_count",
    "updated_at",
    "reply_count",
    "reply_to_post_number",
    "quote_count",
    "incoming_link_count",
    "reads",
    "score",
    "topic_id",
    "topic_slug",
    "topic_title",
    "category_id",
    "display_username",
    "primary_group_name",
    "flair_name",
    "flair_group_id",
    "version",
    "user_title",
    "bookmarked",
    "raw",
    "moderator",
    "admin",
    "staff",
    "user_id",
    "hidden",
    "trust_level",
    "deleted_at",
    "user_deleted",
    "edit_reason",
    "wiki",
    "reviewable_id",
    "reviewable_score_count",
    "reviewable_score_pending_count",
    "post_url",
    "topic_posts_count",
    "topic_filtered_posts_count",
    "topic_archetype",
    "category_slug",
]


def excerpt(raw: str, limit: int = 200) -> str:
    text = html.escape(" ".join(raw.split()))
    return text if len(text) <= limit else text[:limit] + "&hellip;"


def likes_of(forum: Forum, post: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a
        for a in forum.table("post_actions").values()
        if a["post_id"] == post["id"]
        and a["post_action_type_id"] == LIKE
        and not a.get("deleted_at")
    ]


def post_url(topic: dict[str, Any], post: dict[str, Any]) -> str:
    return f"/t/{topic['slug']}/{topic['id']}/{post['post_number']}"


# PostActionType ids in the order Discourse lists them in actions_summary
# (like, off_topic, inappropriate, spam, notify_user, notify_moderators).
ACTION_TYPES = (LIKE, 3, 4, 8, 6, 7)
# Counts of these are public; a flag's count is shown to staff only.
PUBLIC_ACTION_TYPES = {LIKE}


def actions_summary(
    forum: Forum, post: dict[str, Any], viewer: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """PostSerializer#actions_summary: an entry per action the viewer may take or that has a
    count; ``count`` only when not 0, ``can_act`` only when true."""
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    mine = bool(viewer and viewer["id"] == post["user_id"])
    actions = [
        a
        for a in forum.table("post_actions").values()
        if a["post_id"] == post["id"] and not a.get("deleted_at")
    ]
    result = []
    for type_id in ACTION_TYPES:
        taken = [a for a in actions if a["post_action_type_id"] == type_id]
        acted = bool(viewer and any(a["user_id"] == viewer["id"] for a in taken))
        summary: dict[str, Any] = {"id": type_id}
        count = len(taken) if staff or type_id in PUBLIC_ACTION_TYPES else int(acted)
        if count:
            summary["count"] = count
        if viewer is not None and not mine and not acted and not post.get("deleted_at"):
            summary["can_act"] = True
        if acted:
            summary |= {"acted": True, "can_undo": True}
        if summary.get("can_act") or summary.get("count"):
            result.append(summary)
    return result


def post_core(forum: Forum, post: dict[str, Any], viewer: dict[str, Any] | None) -> dict[str, Any]:
    users = forum.table("users")
    author = users.get(post["user_id"]) or users[-1]
    topic = forum.table("topics")[post["topic_id"]]
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    mine = bool(viewer and viewer["id"] == author["id"])
    replies = sum(
        1
        for p in forum.table("posts").values()
        if p["topic_id"] == post["topic_id"]
        and p.get("reply_to_post_number") == post["post_number"]
        and not p.get("deleted_at")
    )
    return {
        "id": post["id"],
        "name": author.get("name") or "",
        "username": author["username"],
        "avatar_template": avatar_template(author),
        "created_at": post["created_at"],
        "cooked": post["cooked"],
        "post_number": post["post_number"],
        "post_type": post.get("post_type", 1),
        "updated_at": post["updated_at"],
        "reply_count": replies,
        "reply_to_post_number": post.get("reply_to_post_number"),
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": int(post.get("reads") or 0),
        "readers_count": 0,
        "score": post_score(post),
        "yours": mine,
        "topic_id": topic["id"],
        "topic_slug": topic["slug"],
        "display_username": author.get("name") or "",
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "version": post.get("version", 1),
        "can_edit": mine or staff,
        "can_delete": (mine or staff) and not post.get("deleted_at"),
        "can_recover": staff and bool(post.get("deleted_at")),
        "can_wiki": staff,
        "user_title": author.get("title"),
        "bookmarked": False,
        "actions_summary": actions_summary(forum, post, viewer),
        "moderator": bool(author.get("moderator")),
        "admin": bool(author.get("admin")),
        "staff": bool(author.get("admin") or author.get("moderator")),
        "user_id": author["id"],
        # Set when a moderator or the flags hide the post (moderation.py), never a constant.
        "hidden": bool(post.get("hidden")),
        "trust_level": author["trust_level"],
        "deleted_at": post.get("deleted_at"),
        "user_deleted": False,
        "edit_reason": post.get("edit_reason"),
        "can_view_edit_history": True,
        "wiki": False,
    } | _review_fields(post, viewer, staff)


def _review_fields(
    post: dict[str, Any], viewer: dict[str, Any] | None, staff: bool
) -> dict[str, Any]:
    """Guardian#can_see_hidden_post? (staff or the author), and the reviewable counts only
    for those who review (staff): the anonymous topic recorded on sourcecred-test has none."""
    data: dict[str, Any] = {
        "can_see_hidden_post": staff or bool(viewer and viewer["id"] == post["user_id"])
    }
    if staff:
        data |= {"reviewable_score_count": 0, "reviewable_score_pending_count": 0}
    return data


def _solved(forum: Forum, post: dict[str, Any], viewer: dict[str, Any] | None) -> dict[str, Any]:
    """The discourse-solved plugin's post fields."""
    topic = forum.table("topics")[post["topic_id"]]
    accepted = topic.get("accepted_answer_post_id") == post["id"]
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    owner = bool(viewer and viewer["id"] == topic["user_id"])
    can = (staff or owner) and post["post_number"] > 1
    return {
        "can_accept_answer": can and not accepted,
        "can_unaccept_answer": can and accepted,
        "accepted_answer": accepted,
    }


def post_json(
    forum: Forum, post: dict[str, Any], viewer: dict[str, Any] | None, variant: str
) -> dict[str, Any]:
    """``variant``: create | update | show | latest | topic | action."""
    data = post_core(forum, post, viewer)
    topic = forum.table("topics")[post["topic_id"]]
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    # The id of the post's pending review, staff only: 0 in a topic view, null elsewhere.
    reviewable = {"reviewable_id": None} if staff else {}
    if variant == "topic":
        data |= link_counts(forum, post)
        data |= {"read": True} | ({"reviewable_id": 0} if staff else {})
        return data | _solved(forum, post, viewer)
    data |= {
        "posts_count": topic["posts_count"],
        "flair_group_id": None,
        **reviewable,
        "post_url": post_url(topic, post),
        "raw": post["raw"],
    }
    if variant in ("create", "update"):
        data |= {"badges_granted": [], "draft_sequence": 0}
    elif variant == "show":
        data |= _solved(forum, post, viewer)
    elif variant == "action":
        data |= {"badges_granted": []}
    elif variant == "latest":
        # PostSerializer, which the plugin's fields are added to (plugin.rb
        # add_to_serializer(:post, ...)): /posts.json carries them too.
        data |= _solved(forum, post, viewer)
        data |= {
            "topic_title": topic["title"],
            "topic_html_title": html.escape(topic["title"]),
            "category_id": topic["category_id"],
            "badges_granted": [],
            "excerpt": excerpt(post["raw"]),
            "truncated": len(post["raw"]) > 200,
        }
    return data


def link_counts(forum: Forum, post: dict[str, Any]) -> dict[str, Any]:
    """``link_counts`` of a post in a topic view, only when the post has links: one entry per
    link of the cooked post (TopicLink), with its clicks (none are counted here)."""
    base = urlsplit(forum.base_url).hostname or ""
    links = []
    for url in dict.fromkeys(re.findall(r'<a href="([^"]+)"', post["cooked"])):
        if url.startswith("/u/") or url.startswith("/groups/"):
            continue  # mentions are not topic links
        host = urlsplit(url).hostname or base
        links.append(
            {"url": html.unescape(url), "internal": host == base, "reflection": False, "clicks": 0}
        )
    return {"link_counts": links} if links else {}


def webhook_post(forum: Forum, post: dict[str, Any]) -> dict[str, Any]:
    """WebHookPostSerializer as the system user sees it (+ reply_to_user for replies)."""
    system = forum.table("users")[-1]
    data = post_json(forum, post, system, "show")
    topic = forum.table("topics")[post["topic_id"]]
    category = forum.table("categories").get(topic["category_id"] or 0) or {}
    visible = [
        p
        for p in forum.table("posts").values()
        if p["topic_id"] == topic["id"] and not p.get("deleted_at")
    ]
    data |= {
        "topic_title": topic["title"],
        "category_id": topic["category_id"],
        "topic_posts_count": topic["posts_count"],
        "topic_filtered_posts_count": len(visible),
        "topic_archetype": topic["archetype"],
        "category_slug": category.get("slug"),
    }
    payload = {k: data[k] for k in WEBHOOK_POST_KEYS}
    # include_category_slug?: only when the topic has a category (a message has none).
    if not category:
        del payload["category_slug"]
    target = post.get("reply_to_post_number")
    if target:
        replied = next(
            (
                p
                for p in forum.table("posts").values()
                if p["topic_id"] == topic["id"] and p["post_number"] == target
            ),
            None,
        )
        author = forum.table("users").get(replied["user_id"]) if replied else None
        if author:
            payload["reply_to_user"] = {
                "username": author["username"],
                "name": author.get("name"),
                "avatar_template": avatar_template(author),
            }
    return payload
