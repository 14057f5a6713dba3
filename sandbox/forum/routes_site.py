"""Site-wide endpoints: /about.json (readiness), /site.json essentials, site settings."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from sandbox.forum.http import (
    current_user,
    forum,
    json_response,
    missing,
    not_found,
    param,
    require_admin,
    route,
)
from sandbox.forum.seed import AUTOMATIC_GROUP_IDS
from sandbox.forum.serial_categories import site_category
from sandbox.forum.visibility import can_see_category

VERSION = "3.5.0"
POST_ACTION_TYPES = [
    (2, "like", "Like", False),
    (3, "off_topic", "Off-Topic", True),
    (4, "inappropriate", "Inappropriate", True),
    (8, "spam", "Spam", True),
    (6, "notify_user", "Send @{{username}} a message", True),
    (7, "notify_moderators", "Something Else", True),
]


# Notification.types in Discourse's order (ids are positions from 1).
NOTIFICATION_TYPES = [
    "mentioned",
    "replied",
    "quoted",
    "edited",
    "liked",
    "private_message",
    "invited_to_private_message",
    "invitee_accepted",
    "posted",
    "moved_post",
    "linked",
    "granted_badge",
    "invited_to_topic",
    "custom",
    "group_mentioned",
    "group_message_summary",
    "watching_first_post",
    "topic_reminder",
    "liked_consolidated",
    "post_approved",
    "code_review_commit_approved",
    "membership_request_accepted",
    "membership_request_consolidated",
    "bookmark_reminder",
    "reaction",
    "votes_released",
    "event_reminder",
    "event_invitation",
    "chat_mention",
    "chat_message",
    "chat_invitation",
    "chat_group_mention",
    "chat_quoted",
    "assigned",
    "question_answer_user_commented",
    "watching_category_or_tag",
    "new_features",
    "admin_problems",
    "linked_consolidated",
    "chat_watched_thread",
]


def register(app: Flask) -> None:
    route(app, "/about", ["GET"])(about)
    route(app, "/site", ["GET"])(site)
    route(app, "/admin/site_settings/<name>", ["PUT"])(update_setting)
    route(app, "/admin/site_settings", ["GET"])(list_settings)


def about() -> Response:
    the_forum = forum()
    users = [u for u in the_forum.table("users").values() if u["id"] > 0]
    posts = [p for p in the_forum.table("posts").values() if not p.get("deleted_at")]
    return json_response(
        {
            "about": {
                "title": the_forum.site_settings["title"],
                "description": "A local Discourse-compatible forum for Constellate.",
                "locale": "en",
                "version": VERSION,
                "https": the_forum.base_url.startswith("https"),
                "can_see_about_stats": True,
                "stats": {
                    "topic_count": len(the_forum.table("topics")),
                    "post_count": len(posts),
                    "user_count": len(users),
                },
                "admins": [],
                "moderators": [],
                "category_moderators": [],
            }
        }
    )


def _action_types(flags: bool) -> list[dict[str, Any]]:
    return [
        {
            "id": type_id,
            "name_key": key,
            "name": name,
            "description": name,
            "short_description": name,
            "is_flag": is_flag,
            "require_message": key == "notify_user",
            "enabled": True,
            "applies_to": ["Post", "Topic"] if is_flag else ["Post"],
            "is_used": False,
            "position": position,
            "auto_action_type": False,
        }
        for position, (type_id, key, name, is_flag) in enumerate(POST_ACTION_TYPES)
        if not flags or is_flag
    ]


def site() -> Response:
    """GET /site.json: the essentials the API docs require."""
    the_forum = forum()
    user = current_user()
    categories = sorted(
        (c for c in the_forum.table("categories").values() if can_see_category(the_forum, c, user)),
        key=lambda c: (c["position"], c["id"]),
    )
    groups = sorted(the_forum.table("groups").values(), key=lambda g: g["name"])
    return json_response(
        {
            "default_archetype": "regular",
            "notification_types": {n: i for i, n in enumerate(NOTIFICATION_TYPES, 1)},
            "post_types": {"regular": 1, "moderator_action": 2, "small_action": 3, "whisper": 4},
            "trust_levels": {"newuser": 0, "basic": 1, "member": 2, "regular": 3, "leader": 4},
            "groups": [
                {
                    "id": g["id"],
                    "name": g["name"],
                    "flair_url": None,
                    "flair_bg_color": None,
                    "flair_color": None,
                    "automatic": g["name"] in AUTOMATIC_GROUP_IDS,
                }
                for g in groups
            ],
            "filters": ["latest", "unread", "new", "top", "categories"],
            "periods": ["all", "yearly", "quarterly", "monthly", "weekly", "daily"],
            "top_menu_items": ["latest", "unread", "new", "top", "categories"],
            "anonymous_top_menu_items": ["latest", "top", "categories"],
            "uncategorized_category_id": 1,
            "user_field_max_length": 2048,
            "post_action_types": _action_types(False),
            "topic_flag_types": _action_types(True),
            "can_create_tag": bool(user and (user.get("admin") or user.get("moderator"))),
            "can_tag_topics": user is not None,
            "can_tag_pms": False,
            "tags_filter_regexp": "[/\\?#\\[\\]@!\\$&'\\(\\)\\*\\+,;=\\.%\\\\`^\\s|\\{\\}\"<>]+",
            "top_tags": [],
            "email_configured": False,
            "topic_featured_link_allowed_category_ids": [],
            "user_themes": [],
            "user_color_schemes": [],
            "default_light_color_scheme": None,
            "default_dark_color_scheme": None,
            "censored_regexp": [],
            "custom_emoji_translation": {},
            "watched_words_replace": None,
            "watched_words_link": None,
            "categories": [site_category(the_forum, c) for c in categories],
            "archetypes": [
                {"id": "regular", "name": "Regular Topic", "options": []},
                {"id": "banner", "name": "Banner", "options": []},
            ],
            "user_fields": [],
            "auth_providers": [],
            "full_name_required_for_signup": False,
            "full_name_visible_in_signup": True,
            "homepage_choices": [],
        }
    )


def update_setting(name: str) -> Response:
    """PUT /admin/site_settings/{name} with ``{name}=value`` (pydiscourse sends it so)."""
    require_admin()
    the_forum = forum()
    if name not in the_forum.site_settings:
        raise not_found()
    value = param(name)
    if value is None:
        raise missing(name)
    current = the_forum.site_settings[name]
    if isinstance(current, bool):
        value = value if isinstance(value, bool) else str(value).lower() == "true"
    elif isinstance(current, int):
        value = int(value)
    the_forum.site_settings[name] = value
    return Response(b"", 200, content_type="text/plain; charset=utf-8")


def list_settings() -> Response:
    require_admin()
    rows = [{"setting": k, "value": v} for k, v in sorted(forum().site_settings.items())]
    return json_response({"site_settings": rows})
