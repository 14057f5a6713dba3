"""Who may see what: Discourse's Guardian, reduced to categories, messages and deletions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.forum.state import Forum


def _staff(user: dict[str, Any] | None) -> bool:
    return bool(user and (user.get("admin") or user.get("moderator")))


def can_see_category(forum: Forum, category: dict[str, Any], user: dict[str, Any] | None) -> bool:
    allowed = category.get("permissions", {})
    if "everyone" in allowed or _staff(user):
        return True
    if user is None:
        return False
    return bool(set(allowed) & set(forum.user_group_names(user)))


def can_see_topic(forum: Forum, topic: dict[str, Any], user: dict[str, Any] | None) -> bool:
    if topic.get("deleted_at") and not _staff(user):
        return False
    if topic["archetype"] == "private_message":
        if user is None:
            return False
        names = {n.lower() for n in topic.get("allowed_usernames", [])}
        groups = {g.lower() for g in topic.get("allowed_groups", [])}
        return (
            user.get("admin") is True
            or user["username"].lower() in names
            or bool(groups & {g.lower() for g in forum.user_group_names(user)})
        )
    if not topic["visible"] and not _staff(user):
        return False
    category = forum.table("categories").get(topic["category_id"])
    return category is None or can_see_category(forum, category, user)


def visible_post(forum: Forum, post: dict[str, Any], user: dict[str, Any] | None) -> bool:
    if post.get("deleted_at") and not _staff(user):
        return False
    topic = forum.table("topics").get(post["topic_id"])
    return topic is not None and can_see_topic(forum, topic, user)


def public_topic(forum: Forum, topic: dict[str, Any], user: dict[str, Any] | None) -> bool:
    """Listed in topic lists: regular, visible to the user and not deleted."""
    return (
        topic["archetype"] == "regular"
        and not topic.get("deleted_at")
        and can_see_topic(forum, topic, user)
    )
