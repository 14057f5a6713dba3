"""Making accounts, group memberships, categories, likes and accepted solutions: the rows
and the webhook events Discourse fires for each. The routes call these once a request
has passed their checks; writing the example straight into the forum's state
(``sandbox.example_state``) calls them too, so both make the same rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.forum.seed import new_user
from sandbox.forum.serial_categories import webhook_category
from sandbox.forum.serial_people import avatar_template, user_groups
from sandbox.forum.serial_posts import LIKE, webhook_post
from sandbox.forum.serial_users import webhook_user
from sandbox.forum.state import SYSTEM_USER_ID

if TYPE_CHECKING:
    from sandbox.forum.state import Forum


def add_user(
    forum: Forum, username: str, *, name: str | None, email: str, active: bool, approved: bool
) -> dict[str, Any]:
    """A new account at trust level 0, as sign-up makes it (users#create)."""
    user = new_user(username, name=name, email=email, created_at=forum.now_iso())
    user.update(active=active, approved=approved, trust_level=0)
    forum.insert("users", user)
    forum.emit("user", "user_created", webhook_user(forum, user))
    return user


def add_group_member(forum: Forum, group: dict[str, Any], user: dict[str, Any]) -> None:
    group["user_ids"].append(user["id"])
    group.setdefault("added_at", {})[str(user["id"])] = forum.now_iso()
    forum.emit(
        "group_user",
        "user_added_to_group",
        group_user(forum, group, user),
        group_ids=[group["id"]],
    )


def group_user(forum: Forum, group: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """WebHookGroupUserSerializer (BasicGroupUserSerializer + id, created_at). ``owner`` is
    only included when the member is the serializer's scope user, and webhook payloads are
    made with the system user's scope, so it is there only for the system user itself."""
    data: dict[str, Any] = {
        "group_id": group["id"],
        "user_id": user["id"],
        "notification_level": group["default_notification_level"],
    }
    if user["id"] == SYSTEM_USER_ID:
        data["owner"] = user["id"] in group.get("owner_ids", [])
    return data | {
        "id": group["id"] * 100000 + user["id"],
        "created_at": group.get("added_at", {}).get(str(user["id"])) or forum.now_iso(),
    }


def next_category_position(forum: Forum) -> int:
    return max((c["position"] for c in forum.table("categories").values()), default=0) + 1


def add_category(forum: Forum, category: dict[str, Any]) -> None:
    """Store a new category (made with ``seed.new_category``) and fire category_created."""
    forum.insert("categories", category)
    forum.emit(
        "category",
        "category_created",
        webhook_category(forum, category),
        category_id=category["id"],
    )


def add_like(forum: Forum, post: dict[str, Any], user: dict[str, Any]) -> None:
    action = {
        "post_id": post["id"],
        "user_id": user["id"],
        "post_action_type_id": LIKE,
        "created_at": forum.now_iso(),
        "deleted_at": None,
    }
    forum.insert("post_actions", action)
    topic = forum.table("topics")[post["topic_id"]]
    forum.emit(
        "like",
        "post_liked",
        {
            "post": webhook_post(forum, post),
            "user": {
                "id": user["id"],
                "username": user["username"],
                "name": user.get("name"),
                "avatar_template": avatar_template(user),
            },
        },
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
        # The liker's groups, as the like_created handler passes them to the hook filter.
        group_ids=[g["id"] for g in user_groups(forum, user)],
    )


def set_solution(forum: Forum, post: dict[str, Any], accepting: bool) -> None:
    """Accept ``post`` as its topic's solution, or take that back (discourse-solved)."""
    topic = forum.table("topics")[post["topic_id"]]
    if accepting:
        topic["accepted_answer_post_id"] = post["id"]
    elif topic.get("accepted_answer_post_id") == post["id"]:
        topic["accepted_answer_post_id"] = None
    forum.emit(
        "solved",
        "accepted_solution" if accepting else "unaccepted_solution",
        webhook_post(forum, post),
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
    )
