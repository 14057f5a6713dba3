"""Categories as /categories.json, CategorySerializer and /site.json send them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.forum.serial_people import user_basic
from sandbox.forum.serial_topics import topic_list_item

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

PERMISSION_FULL = 1
UNCATEGORIZED = 1
GROUP_MODERATION = "enable_category_group_moderation"


def _topics_in(forum: Forum, category: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        t
        for t in forum.table("topics").values()
        if t["category_id"] == category["id"] and not t.get("deleted_at")
    ]


def subcategory_ids(forum: Forum, category: dict[str, Any]) -> list[int]:
    return sorted(
        c["id"]
        for c in forum.table("categories").values()
        if c.get("parent_category_id") == category["id"]
    )


def _common(forum: Forum, category: dict[str, Any]) -> dict[str, Any]:
    topics = _topics_in(forum, category)
    children = subcategory_ids(forum, category)
    description = category.get("description")
    return {
        "id": category["id"],
        "name": category["name"],
        "color": category["color"],
        "text_color": category["text_color"],
        "style_type": "square",
        "emoji": None,
        "icon": None,
        "slug": category["slug"],
        "topic_count": len(topics),
        "post_count": sum(t["posts_count"] for t in topics),
        "position": category["position"],
        "description": description,
        "description_text": description,
        "description_excerpt": description,
        "topic_url": None,
        "read_restricted": "everyone" not in category.get("permissions", {}),
        "permission": PERMISSION_FULL,
        "notification_level": 1,
        "can_edit": True,
        "topic_template": None,
        "topic_title_placeholder": None,
        "has_children": bool(children),
        "subcategory_count": len(children) or None,
        "sort_order": None,
        "sort_ascending": None,
        "show_subcategory_list": False,
        "num_featured_topics": 3,
        "default_view": None,
        "subcategory_list_style": "rows_with_featured_topics",
        "default_top_period": "all",
        "default_list_filter": "all",
        "minimum_required_tags": 0,
        "navigate_to_first_post_after_read": False,
        "uploaded_logo": None,
        "uploaded_logo_dark": None,
        "uploaded_background": None,
        "uploaded_background_dark": None,
    }


# The keys of a featured topic in a category list (CategoryDetailedSerializer's ``topics``,
# ListableTopicSerializer), as the real sourcecred-test answer has them.
FEATURED_TOPIC_KEYS = [
    "id",
    "title",
    "fancy_title",
    "slug",
    "posts_count",
    "reply_count",
    "highest_post_number",
    "image_url",
    "created_at",
    "last_posted_at",
    "bumped",
    "bumped_at",
    "archetype",
    "unseen",
    "pinned",
    "unpinned",
    "visible",
    "closed",
    "archived",
    "bookmarked",
    "liked",
    "has_accepted_answer",
]
NUM_FEATURED_TOPICS = 3


def category_list_entry(
    forum: Forum,
    category: dict[str, Any],
    viewer: dict[str, Any] | None = None,
    *,
    with_topics: bool = False,
) -> dict[str, Any]:
    """An entry of /categories.json (CategoryDetailedSerializer). ``can_edit`` only for those
    who may edit (include_can_edit?), ``is_uncategorized`` only on Uncategorized, and the
    featured ``topics`` only when the list asks for them and there are some."""
    topics = _topics_in(forum, category)
    data = _common(forum, category) | {
        "topics_day": len(topics),
        "topics_week": len(topics),
        "topics_month": len(topics),
        "topics_year": len(topics),
        "topics_all_time": len(topics),
        "subcategory_ids": subcategory_ids(forum, category),
    }
    if not (viewer and (viewer.get("admin") or viewer.get("moderator"))):
        del data["can_edit"]
    if category["id"] == UNCATEGORIZED:
        data["is_uncategorized"] = True
    if category.get("parent_category_id"):
        data["parent_category_id"] = category["parent_category_id"]
    featured = featured_topics(forum, topics) if with_topics else []
    if featured:
        data["topics"] = featured
    return data


def featured_topics(forum: Forum, topics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users = forum.table("users")
    listed = sorted(
        (t for t in topics if t["archetype"] == "regular" and t["visible"]),
        key=lambda t: (t["bumped_at"], t["id"]),
        reverse=True,
    )[:NUM_FEATURED_TOPICS]
    featured = []
    for topic in listed:
        item = topic_list_item(forum, topic)
        last = forum.user_by_username(item["last_poster_username"]) or users[topic["user_id"]]
        entry = {key: item[key] for key in FEATURED_TOPIC_KEYS}
        entry["last_poster"] = user_basic(last)
        featured.append(entry)
    return featured


def moderating_group_ids(forum: Forum, category: dict[str, Any]) -> dict[str, list[int]]:
    """CategorySerializer's ``moderating_group_ids`` (the category's CategoryModerationGroup
    rows), as a one-key dict to merge in; empty when enable_category_group_moderation is
    off, since the serializer then leaves the key out for everyone who asks."""
    if not forum.site_settings.get(GROUP_MODERATION):
        return {}
    return {"moderating_group_ids": list(category.get("moderating_group_ids", []))}


def category_detail(forum: Forum, category: dict[str, Any]) -> dict[str, Any]:
    """CategorySerializer: /c/{id}/show.json, POST and PUT /categories. Not /categories.json
    entries (CategoryDetailedSerializer) nor /site.json (SiteCategorySerializer): both stop
    below CategorySerializer, so neither has ``moderating_group_ids``."""
    groups = {g["name"]: g for g in forum.table("groups").values()}
    data = _common(forum, category) | {
        "form_template_ids": [],
        "custom_fields": {},
        "required_tag_groups": [],
        "read_only_banner": None,
        "available_groups": sorted(g["name"] for g in groups.values() if not g["automatic"]),
        "auto_close_hours": None,
        "auto_close_based_on_last_post": False,
        "allow_unlimited_owner_edits_on_first_post": False,
        "default_slow_mode_seconds": None,
        "group_permissions": [
            {"permission_type": int(level), "group_name": name, "group_id": groups[name]["id"]}
            for name, level in category.get("permissions", {}).items()
            if name in groups
        ],
        "email_in": None,
        "email_in_allow_strangers": False,
        "mailinglist_mirror": False,
        "all_topics_wiki": False,
        "can_delete": category["id"] != 1 and not _topics_in(forum, category),
        "allow_badges": category.get("allow_badges", True),
        "topic_featured_link_allowed": True,
        "search_priority": category.get("search_priority", 0),
        **moderating_group_ids(forum, category),
        "topic_posting_review_group_ids": [],
        "reply_posting_review_group_ids": [],
        # include_allowed_tags? and the like: tagging is on here. No tag is restricted to
        # a category in the sandbox.
        "allowed_tags": [],
        "allowed_tag_groups": [],
        "allow_global_tags": False,
        "category_localizations": [],  # no content localization in the sandbox
    }
    if category.get("parent_category_id"):
        data["parent_category_id"] = category["parent_category_id"]
    return data


def webhook_category(forum: Forum, category: dict[str, Any]) -> dict[str, Any]:
    """WebHookCategorySerializer: CategorySerializer without what depends on who looks
    (app/serializers/web_hook_category_serializer.rb excludes these three). The rest comes
    along, ``moderating_group_ids`` too when group moderation is on."""
    hidden = {"can_edit", "notification_level", "available_groups"}
    return {k: v for k, v in category_detail(forum, category).items() if k not in hidden}


def site_category(forum: Forum, category: dict[str, Any]) -> dict[str, Any]:
    """The ``categories`` of /site.json (SiteCategorySerializer)."""
    data = _common(forum, category) | {
        "topic_url": f"/c/{category['slug']}/{category['id']}",
        "allow_global_tags": False,
        "required_tag_groups": [],
        "read_only_banner": None,
        "custom_fields": {},
    }
    if category.get("parent_category_id"):
        data["parent_category_id"] = category["parent_category_id"]
    return data
