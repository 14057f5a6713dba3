"""Flags and hidden posts: the state behind a post's ``hidden``.

A moderator's flag with ``take_action=true`` hides the post at once (PostActionCreator with
take_action, Post#hide!) and PUT /posts/{id}/unhide shows it again (PostsController#unhide).
Discourse also hides a post when the flags of ordinary users push its reviewable score past
``score_to_hide_post``; that scoring is not modelled, so only staff action hides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

# PostActionType flag types that can be cast on a post (notify_user, 6, sends a message
# instead and is not modelled).
FLAG_TYPES = {3: "off_topic", 4: "inappropriate", 7: "notify_moderators", 8: "spam"}
# Post.hidden_reasons
FLAG_THRESHOLD_REACHED = 1


def flag(
    forum: Forum, post: dict[str, Any], user: dict[str, Any], type_id: int, take_action: bool
) -> dict[str, Any]:
    """Record the flag; a staff flag that takes action hides the post."""
    action = {
        "post_id": post["id"],
        "user_id": user["id"],
        "post_action_type_id": type_id,
        "created_at": forum.now_iso(),
        "deleted_at": None,
    }
    forum.insert("post_actions", action)
    if take_action and (user.get("admin") or user.get("moderator")):
        hide(post, FLAG_THRESHOLD_REACHED)
    return action


def hide(post: dict[str, Any], reason: int) -> None:
    post["hidden"] = True
    post["hidden_reason_id"] = reason


def unhide(post: dict[str, Any]) -> None:
    post["hidden"] = False
    post["hidden_reason_id"] = None


def flagged_by(forum: Forum, post: dict[str, Any], user: dict[str, Any]) -> bool:
    return any(
        a["post_id"] == post["id"]
        and a["user_id"] == user["id"]
        and a["post_action_type_id"] in FLAG_TYPES
        and not a.get("deleted_at")
        for a in forum.table("post_actions").values()
    )
