"""What a fresh Discourse has: the system admin, automatic groups, default categories, badges."""

from __future__ import annotations

from typing import Any, Protocol


class Tables(Protocol):
    """What seeding writes through (the forum's state, which imports this module)."""

    def table(self, name: str) -> dict[int, dict[str, Any]]: ...

    def put(self, name: str, row_id: int, row: dict[str, Any]) -> None: ...

    def reserve_ids(self, name: str, first: int) -> None: ...

    def now_iso(self) -> str: ...


BADGE_TYPES = [
    {"id": 1, "name": "Gold", "sort_order": 9},
    {"id": 2, "name": "Silver", "sort_order": 8},
    {"id": 3, "name": "Bronze", "sort_order": 7},
]
BADGE_GROUPINGS = [
    {"id": 1, "name": "Getting Started", "description": None, "position": 10, "system": True},
    {"id": 2, "name": "Community", "description": None, "position": 11, "system": True},
    {"id": 3, "name": "Posting", "description": None, "position": 12, "system": True},
    {"id": 4, "name": "Trust Level", "description": None, "position": 13, "system": True},
    {"id": 5, "name": "Other", "description": None, "position": 14, "system": True},
]
# (id, name, badge_type_id, grouping, multiple_grant, description) as Discourse seeds them.
DEFAULT_BADGES = [
    (1, "Basic", 3, 4, False, "Granted all essential community functions"),
    (2, "Member", 3, 4, False, "Granted invitations, group messaging, more likes"),
    (3, "Regular", 2, 4, False, "Granted recategorize, rename, followed links, wiki, more likes"),
    (4, "Leader", 1, 4, False, "Granted global edit, pin, close, archive, split and merge"),
    (5, "Welcome", 3, 2, False, "Received a like"),
    (6, "Nice Post", 3, 3, True, "Received 10 likes on a reply"),
]
AUTOMATIC_GROUP_IDS = {
    "everyone": 0,
    "admins": 1,
    "moderators": 2,
    "staff": 3,
    "trust_level_0": 10,
    "trust_level_1": 11,
    "trust_level_2": 12,
    "trust_level_3": 13,
    "trust_level_4": 14,
}


def new_user(username: str, *, name: str | None, email: str, created_at: str) -> dict[str, Any]:
    return {
        "username": username,
        "name": name,
        "email": email,
        "password": None,
        "active": True,
        "approved": True,
        "admin": False,
        "moderator": False,
        "trust_level": 1,
        "title": None,
        "created_at": created_at,
        "last_posted_at": None,
        "last_seen_at": None,
        "external_id": None,
        "staged": False,
    }


def new_group(
    name: str, *, automatic: bool = False, full_name: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "full_name": full_name,
        "automatic": automatic,
        "title": None,
        "bio_raw": None,
        "visibility_level": 0,
        "members_visibility_level": 0,
        "mentionable_level": 0,
        "messageable_level": 0,
        "primary_group": False,
        "public_admission": False,
        "public_exit": False,
        "allow_membership_requests": False,
        "default_notification_level": 3,
        "grant_trust_level": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "user_ids": [],
        "owner_ids": [],
        "added_at": {},
    }


def new_category(name: str, slug: str, *, position: int, created_at: str) -> dict[str, Any]:
    return {
        "name": name,
        "slug": slug,
        "color": "0088CC",
        "text_color": "FFFFFF",
        "description": None,
        "parent_category_id": None,
        "position": position,
        "permissions": {"everyone": 1},
        "created_at": created_at,
        "allow_badges": True,
        "search_priority": 0,
    }


def new_tag_group(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tag_names": [],
        "parent_tag_name": [],
        "one_per_topic": False,
        "permissions": {"everyone": 1},
    }


def new_badge(name: str, badge_type_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "badge_type_id": badge_type_id,
        "description": fields.get("description") or "",
        "long_description": fields.get("long_description") or "",
        "icon": fields.get("icon") or "certificate",
        "image_upload_id": None,
        "allow_title": bool(fields.get("allow_title", False)),
        "multiple_grant": bool(fields.get("multiple_grant", False)),
        "listable": bool(fields.get("listable", True)),
        "enabled": bool(fields.get("enabled", True)),
        "badge_grouping_id": int(fields.get("badge_grouping_id") or 5),
        "system": bool(fields.get("system", False)),
        "query": fields.get("query") or None,
        "show_posts": bool(fields.get("show_posts", False)),
        "target_posts": bool(fields.get("target_posts", False)),
        "auto_revoke": bool(fields.get("auto_revoke", True)),
        "show_in_post_header": False,
    }


def populate(forum: Tables) -> None:
    now = forum.now_iso()
    system = new_user("system", name="system", email="no_email", created_at=now)
    system.update(admin=True, moderator=True, trust_level=4)
    forum.put("users", -1, system)
    for name, group_id in AUTOMATIC_GROUP_IDS.items():
        forum.put("groups", group_id, new_group(name, automatic=True))
    forum.put(
        "categories", 1, new_category("Uncategorized", "uncategorized", position=0, created_at=now)
    )
    forum.table("categories")[1]["description"] = (
        "Topics that don't need a category, or don't fit into any other existing category."
    )
    staff = new_category("Staff", "staff", position=1, created_at=now)
    staff.update(permissions={"staff": 1}, description="Private category for staff discussions.")
    forum.put("categories", 2, staff)
    for badge_id, name, type_id, grouping, multiple, description in DEFAULT_BADGES:
        badge = new_badge(name, type_id, description=description, multiple_grant=multiple)
        badge.update(system=True, badge_grouping_id=grouping)
        forum.put("badges", badge_id, badge)
    # User-made badges start at 100, as Discourse reserves the low ids for system badges.
    forum.reserve_ids("badges", 100)
