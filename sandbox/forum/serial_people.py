"""JSON shapes for users, groups and badges, key for key as Discourse's serializers send them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sandbox.forum.seed import BADGE_GROUPINGS, BADGE_TYPES

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

NOTIFICATION_SCHEDULE = {"enabled": False} | {
    f"day_{day}_{edge}_time": minutes
    for day in range(7)
    for edge, minutes in (("start", 480), ("end", 1020))
}


def avatar_template(user: dict[str, Any]) -> str:
    if user["id"] < 0:
        return "/images/discourse-logo-sketch-small.png"
    color = hashlib.sha1(user["username"].lower().encode()).hexdigest()[:6]  # noqa: S324
    return f"/letter_avatar_proxy/v4/letter/{user['username'][0].lower()}/{color}/{{size}}.png"


def user_basic(user: dict[str, Any]) -> dict[str, Any]:
    """BasicUserSerializer: created_by, last_poster, invited_by."""
    return {
        "id": user["id"],
        "username": user["username"],
        "name": user.get("name") or "",
        "avatar_template": avatar_template(user),
    }


def user_list_entry(user: dict[str, Any]) -> dict[str, Any]:
    """The side-loaded ``users`` of topic lists (as recorded: admin/moderator only when true)."""
    entry = user_basic(user) | {"flair_name": None, "trust_level": user["trust_level"]}
    if user.get("admin"):
        entry["admin"] = True
    if user.get("moderator"):
        entry["moderator"] = True
    return entry


def counts(forum: Forum, user: dict[str, Any]) -> dict[str, int]:
    posts = [
        p
        for p in forum.table("posts").values()
        if p["user_id"] == user["id"] and not p.get("deleted_at")
    ]
    likes = forum.table("post_actions").values()
    post_ids = {p["id"] for p in posts}
    return {
        "post_count": len(posts),
        "topic_count": sum(1 for p in posts if p["post_number"] == 1),
        "like_count": sum(1 for a in likes if a["post_id"] in post_ids and not a.get("deleted_at")),
        "like_given_count": sum(
            1 for a in likes if a["user_id"] == user["id"] and not a.get("deleted_at")
        ),
        "badge_count": sum(
            1 for b in forum.table("user_badges").values() if b["user_id"] == user["id"]
        ),
        "accepted_answers": sum(
            1
            for t in forum.table("topics").values()
            if t.get("accepted_answer_post_id") in post_ids
        ),
    }


def group_basic(
    forum: Forum, group: dict[str, Any], user: dict[str, Any] | None = None
) -> dict[str, Any]:
    """BasicGroupSerializer."""
    return {
        "id": group["id"],
        "automatic": group["automatic"],
        "name": group["name"],
        "display_name": group.get("full_name") or group["name"],
        "user_count": len(group_member_ids(forum, group)),
        "mentionable_level": group["mentionable_level"],
        "messageable_level": group["messageable_level"],
        "visibility_level": group["visibility_level"],
        "primary_group": group["primary_group"],
        "title": group["title"],
        "grant_trust_level": group["grant_trust_level"],
        "incoming_email": None,
        "has_messages": False,
        "flair_url": group["flair_url"],
        "flair_bg_color": group["flair_bg_color"],
        "flair_color": group["flair_color"],
        "bio_raw": group["bio_raw"],
        "bio_cooked": f"<p>{group['bio_raw']}</p>" if group["bio_raw"] else None,
        "bio_excerpt": group["bio_raw"],
        "public_admission": group["public_admission"],
        "public_exit": group["public_exit"],
        "allow_membership_requests": group["allow_membership_requests"],
        "full_name": group.get("full_name"),
        "default_notification_level": group["default_notification_level"],
        "membership_request_template": None,
        "members_visibility_level": group["members_visibility_level"],
        "can_see_members": True,
        "can_admin_group": bool(user and user.get("admin")),
        "publish_read_state": False,
    }


def group_detail(
    forum: Forum, group: dict[str, Any], user: dict[str, Any] | None
) -> dict[str, Any]:
    """GroupShowSerializer (GET /groups/{name}.json)."""
    detail = group_basic(forum, group, user)
    detail.pop("display_name")
    member = bool(user and user["id"] in group_member_ids(forum, group))
    return detail | {
        "can_edit_group": bool(user and user.get("admin")),
        "is_group_user": member,
        "is_group_owner_display": bool(user and user["id"] in group.get("owner_ids", [])),
        "mentionable": True,
        "messageable": False,
        "automatic_membership_email_domains": None,
        "smtp_server": None,
        "smtp_port": None,
        "smtp_ssl_mode": None,
        "email_username": None,
        "email_password": None,
        "message_count": 0,
        "allow_unknown_sender_topic_replies": False,
        "watching_category_ids": [],
        "tracking_category_ids": [],
        "watching_first_post_category_ids": [],
        "regular_category_ids": [],
        "muted_category_ids": [],
    }


def group_member_ids(forum: Forum, group: dict[str, Any]) -> list[int]:
    """Members; automatic groups compute theirs from the users' flags and trust levels."""
    if not group["automatic"]:
        return list(group.get("user_ids", []))
    return [
        u["id"]
        for u in sorted(forum.table("users").values(), key=lambda u: u["id"])
        if group["name"] == "everyone" or group["name"] in forum.user_group_names(u)
    ]


def user_groups(forum: Forum, user: dict[str, Any]) -> list[dict[str, Any]]:
    names = set(forum.user_group_names(user))
    return [
        g
        for g in sorted(forum.table("groups").values(), key=lambda g: g["id"])
        if g["name"] in names
    ]


def badge_json(forum: Forum, badge: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
    """BadgeSerializer; the admin variant adds the query/trigger fields."""
    grants = sum(1 for b in forum.table("user_badges").values() if b["badge_id"] == badge["id"])
    data = {
        "id": badge["id"],
        "name": badge["name"],
        "description": badge["description"],
        "grant_count": grants,
        "allow_title": badge["allow_title"],
        "multiple_grant": badge["multiple_grant"],
        "icon": badge["icon"],
        "image_url": None,
        "listable": badge["listable"],
        "enabled": badge["enabled"],
        "badge_grouping_id": badge["badge_grouping_id"],
        "system": badge["system"],
        "slug": badge["name"].lower().replace(" ", "-"),
        "manually_grantable": not badge["system"],
        "badge_type_id": badge["badge_type_id"],
    }
    if admin:
        data |= {
            "long_description": badge["long_description"],
            "query": badge["query"],
            "trigger": None,
            "target_posts": badge["target_posts"],
            "auto_revoke": badge["auto_revoke"],
            "show_posts": badge["show_posts"],
            "image_upload_id": badge["image_upload_id"],
            "show_in_post_header": badge["show_in_post_header"],
        }
    return data


def badge_types(type_ids: set[int] | None = None) -> list[dict[str, Any]]:
    return [t for t in BADGE_TYPES if type_ids is None or t["id"] in type_ids]


def _shown_post(forum: Forum, grant: dict[str, Any]) -> dict[str, Any] | None:
    """The grant's post when its badge shows posts (include_post_attributes?)."""
    badge = forum.table("badges").get(grant["badge_id"]) or {}
    post = forum.table("posts").get(grant.get("post_id") or 0)
    return post if post and badge.get("show_posts") else None


def user_badge_json(
    forum: Forum,
    grant: dict[str, Any],
    viewer: dict[str, Any] | None = None,
    *,
    grouped: bool = False,
) -> dict[str, Any]:
    """DetailedUserBadgeSerializer (GET /user-badges/{username}.json, POST /user_badges):
    the keys of the current spec (listUserBadges), ``count`` only for grouped lists, and the
    post's number, topic and title for badges that show posts."""
    data: dict[str, Any] = {"id": grant["id"], "granted_at": grant["granted_at"]}
    if grouped:
        data["count"] = sum(
            1
            for g in forum.table("user_badges").values()
            if g["user_id"] == grant["user_id"] and g["badge_id"] == grant["badge_id"]
        )
    badge = forum.table("badges").get(grant["badge_id"]) or {}
    grouping = next((g for g in BADGE_GROUPINGS if g["id"] == badge.get("badge_grouping_id")), None)
    data["grouping_position"] = grouping["position"] if grouping else None
    post = _shown_post(forum, grant)
    if post:
        topic = forum.table("topics").get(post["topic_id"]) or {}
        data |= {
            "post_number": post["post_number"],
            "topic_id": post["topic_id"],
            "topic_title": topic.get("title"),
        }
    mine = bool(viewer and viewer["id"] == grant["user_id"])
    return data | {
        "is_favorite": grant.get("is_favorite"),
        # max_favorite_badges > 0, the viewer's own badge, not a trust-level badge (1-4)
        "can_favorite": mine and grant["badge_id"] not in range(1, 5),
        "badge_id": grant["badge_id"],
        "granted_by_id": grant["granted_by_id"],
    }


def profile_user_badge(forum: Forum, grant: dict[str, Any]) -> dict[str, Any]:
    """UserBadgeSerializer in GET /u/{username}.json, key for key as the real sourcecred-test
    answers have it (the featured badges are loaded with a count)."""
    return webhook_user_badge(forum, grant, counted=True)


def webhook_user_badge(
    forum: Forum, grant: dict[str, Any], *, counted: bool = False
) -> dict[str, Any]:
    """UserBadgeSerializer as the user_badge_granted/revoked hooks send it (root: false):
    the grant's own columns and the ids of its badge, user and granter. ``count`` is only
    there when the row was loaded with a count (``counted``; not for a single grant); the
    post fields only when the badge shows posts (include_post_id?). Key order as Discourse
    sends it."""
    data: dict[str, Any] = {
        "id": grant["id"],
        "granted_at": grant["granted_at"],
        "created_at": grant["granted_at"],
    }
    if counted:
        data["count"] = 1
    post = _shown_post(forum, grant)
    if post:
        data |= {"post_id": post["id"], "post_number": post["post_number"]}
    data |= {
        "badge_id": grant["badge_id"],
        "user_id": grant["user_id"],
        "granted_by_id": grant["granted_by_id"],
    }
    if post:
        data["topic_id"] = post["topic_id"]
    return data


def side_loaded_badges(forum: Forum, grants: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``badges``, ``badge_types`` and ``granted_bies`` that travel with user badges."""
    badges = [
        forum.table("badges")[g["badge_id"]]
        for g in grants
        if g["badge_id"] in forum.table("badges")
    ]
    unique = {b["id"]: b for b in badges}
    users = forum.table("users")
    granters = {
        g["granted_by_id"]: users[g["granted_by_id"]] for g in grants if g["granted_by_id"] in users
    }
    return {
        "badges": [badge_json(forum, b) for b in unique.values()],
        "badge_types": badge_types({b["badge_type_id"] for b in unique.values()}),
        "granted_bies": [
            user_basic(u)
            | {
                "flair_name": None,
                "admin": bool(u.get("admin")),
                "moderator": bool(u.get("moderator")),
                "trust_level": u["trust_level"],
            }
            for u in granters.values()
        ],
    }
