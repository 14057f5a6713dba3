"""User profiles: UserSerializer (/u/{username}.json), AdminDetailedUserSerializer, webhook user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.forum.serial_people import (
    NOTIFICATION_SCHEDULE,
    avatar_template,
    counts,
    group_basic,
    profile_user_badge,
    side_loaded_badges,
    user_basic,
    user_groups,
    user_list_entry,
)

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

USER_OPTION_DEFAULTS: dict[str, Any] = {
    "mailing_list_mode": False,
    "mailing_list_mode_frequency": 1,
    "email_digests": True,
    "email_level": 1,
    "email_messages_level": 0,
    "external_links_in_new_tab": False,
    "color_scheme_id": None,
    "dark_scheme_id": None,
    "dynamic_favicon": False,
    "enable_quoting": True,
    "enable_smart_lists": True,
    "enable_markdown_monospace_font": False,
    "digest_after_minutes": 10080,
    "automatically_unpin_topics": True,
    "auto_track_topics_after_msecs": 240000,
    "notification_level_when_replying": 2,
    "new_topic_duration_minutes": 2880,
    "email_previous_replies": 2,
    "email_in_reply_to": False,
    "like_notification_frequency": 1,
    "notify_on_linked_posts": True,
    "push_notification_level": "always",
    "enable_upcoming_change_available_notifications": False,
    "include_tl0_in_digests": False,
    "theme_ids": [],
    "theme_key_seq": 0,
    "allow_private_messages": True,
    "enable_allowed_pm_users": False,
    "homepage_id": None,
    "hide_profile_and_presence": False,
    "hide_profile": False,
    "hide_presence": False,
    "text_size": "normal",
    "text_size_seq": 0,
    "title_count_mode": "notifications",
    "bookmark_auto_delete_preference": 3,
    "timezone": None,
    "skip_new_user_tips": False,
    "default_calendar": "none_selected",
    "oldest_search_log_date": None,
    "seen_popups": None,
    "sidebar_link_to_filtered_list": False,
    "sidebar_show_count_of_new_items": False,
    "watched_precedence_over_muted": False,
    "topics_unread_when_closed": True,
    "composition_mode": 0,
    "interface_color_mode": 1,
    "automatically_translate": False,
    "understood_languages": [],
    "show_original_content": True,
    "send_shortcut": "enter",
}
EMPTY_LISTS = [
    "muted_category_ids",
    "regular_category_ids",
    "watched_tags",
    "watching_first_post_tags",
    "tracked_tags",
    "muted_tags",
    "tracked_category_ids",
    "watched_category_ids",
    "watched_first_post_category_ids",
    "muted_usernames",
    "ignored_usernames",
    "allowed_pm_usernames",
    "user_auth_tokens",
]


def _featured_topic(forum: Forum, user: dict[str, Any]) -> dict[str, Any] | None:
    topic = forum.table("topics").get(user.get("featured_topic_id") or 0)
    if not topic:
        return None
    return {k: topic[k] for k in ("id", "title", "slug")} | {
        "fancy_title": topic["title"],
        "posts_count": topic["posts_count"],
    }


def user_profile(
    forum: Forum, user: dict[str, Any], viewer: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``user`` object of GET /u/{username}.json, as ``viewer`` may see it."""
    tally = counts(forum, user)
    groups = user_groups(forum, user)
    # Guardian#can_edit_user?: the user themself or staff.
    own_or_staff = bool(
        viewer and (viewer["id"] == user["id"] or viewer.get("admin") or viewer.get("moderator"))
    )
    grants = [b for b in forum.table("user_badges").values() if b["user_id"] == user["id"]]
    data: dict[str, Any] = user_basic(user) | {
        "last_posted_at": user.get("last_posted_at"),
        "last_seen_at": user.get("last_seen_at"),
        "created_at": user["created_at"],
        "ignored": False,
        "muted": False,
        "can_ignore_user": False,
        "can_mute_user": False,
        "can_send_private_messages": viewer is not None,
        "can_send_private_message_to_user": viewer is not None,
        "trust_level": user["trust_level"],
        "moderator": bool(user.get("moderator")),
        "admin": bool(user.get("admin")),
        "title": user.get("title"),
        "badge_count": tally["badge_count"],
        "custom_fields": {},
        "time_read": 0,
        "recent_time_read": 0,
        "primary_group_id": None,
        "primary_group_name": None,
        "flair_group_id": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "featured_topic": _featured_topic(forum, user),
        "bio_excerpt": user.get("bio_raw"),
        "bio_cooked": f"<p>{user['bio_raw']}</p>" if user.get("bio_raw") else None,
        "staged": bool(user.get("staged")),
        "can_edit": own_or_staff,
        "can_edit_username": own_or_staff,
        "can_edit_email": own_or_staff,
        "can_edit_name": own_or_staff,
        "uploaded_avatar_id": None,
        "has_title_badges": False,
        "pending_count": 0,
        "profile_view_count": 0,
        "second_factor_enabled": False,
        "can_upload_profile_header": False,
        "can_upload_user_card_background": False,
        "post_count": tally["post_count"],
        "topic_count": tally["topic_count"],
        "can_be_deleted": bool(viewer and viewer.get("admin")) and tally["post_count"] == 0,
        "can_delete_all_posts": bool(viewer and viewer.get("admin")),
        "locale": None,
        "system_avatar_upload_id": None,
        "system_avatar_template": avatar_template(user),
        "mailing_list_posts_per_day": 0,
        "can_change_bio": True,
        "can_change_location": True,
        "can_change_website": True,
        "can_change_tracking_preferences": True,
        "user_api_keys": None,
        "user_notification_schedule": dict(NOTIFICATION_SCHEDULE),
        "use_logo_small_as_avatar": False,
        "accepted_answers": tally["accepted_answers"],
        "featured_user_badge_ids": [g["id"] for g in grants[:3]],
        "invited_by": None,
        "groups": [group_basic(forum, g, viewer) for g in groups],
        "group_users": [
            {"group_id": g["id"], "user_id": user["id"], "notification_level": 3} for g in groups
        ],
        "user_option": {"user_id": user["id"], **USER_OPTION_DEFAULTS},
    }
    data |= {name: [] for name in EMPTY_LISTS}
    return _for_viewer(data, user, viewer)


# UserSerializer's private_attributes (and user_option): only for viewers who can edit the
# user (the user, or staff).
PRIVATE_KEYS = {
    "locale",
    "system_avatar_upload_id",
    "system_avatar_template",
    "has_title_badges",
    "mailing_list_posts_per_day",
    "can_change_bio",
    "can_change_location",
    "can_change_website",
    "can_change_tracking_preferences",
    "user_api_keys",
    "use_logo_small_as_avatar",
    "user_option",
    *EMPTY_LISTS,
}
# staff_attributes (post_count, can_be_deleted, can_delete_all_posts) and the counts and
# flags the real anonymous answer (sourcecred-test, /users/dl-proto.json) does not carry.
STAFF_KEYS = {"post_count", "topic_count", "can_be_deleted", "can_delete_all_posts", "staged"}


def _for_viewer(
    data: dict[str, Any], user: dict[str, Any], viewer: dict[str, Any] | None
) -> dict[str, Any]:
    """Drop what this viewer may not see. ``email`` (include_email?) only for the user
    themself, or for staff looking at a staged user: an admin key does not read other
    people's addresses here (the admin user endpoints do)."""
    me = bool(viewer and viewer["id"] == user["id"])
    staff = bool(viewer and (viewer.get("admin") or viewer.get("moderator")))
    hidden: set[str] = set()
    if not (me or staff):
        hidden |= PRIVATE_KEYS | {"second_factor_enabled"}
    if not staff:
        hidden |= STAFF_KEYS
    if not (me or (viewer and viewer.get("admin"))):
        hidden.add("group_users")
    shown = {k: v for k, v in data.items() if k not in hidden}
    if me or (staff and user.get("staged")):
        shown["email"] = user.get("email")
    return shown


def user_page(forum: Forum, user: dict[str, Any], viewer: dict[str, Any] | None) -> dict[str, Any]:
    """GET /u/{username}.json: the user plus side-loaded badges and featured topics."""
    grants = [b for b in forum.table("user_badges").values() if b["user_id"] == user["id"]][:3]
    loaded = side_loaded_badges(forum, grants)
    granted_by = {g["granted_by_id"] for g in grants}
    users = forum.table("users")
    profile = user_profile(forum, user, viewer)
    topic = profile["featured_topic"]
    return {
        "user_badges": [profile_user_badge(forum, g) for g in grants],
        "badges": loaded["badges"],
        "badge_types": loaded["badge_types"],
        # Side-loaded like a topic list's users: admin and moderator only when true.
        "users": [
            user_list_entry(users[i]) for i in sorted(granted_by | {user["id"]}) if i in users
        ],
        "topics": [topic] if topic else [],
        "user": profile,
    }


def admin_user(forum: Forum, user: dict[str, Any]) -> dict[str, Any]:
    """AdminDetailedUserSerializer (GET /admin/users/{id}.json)."""
    tally = counts(forum, user)
    staff_can = user["id"] > 0
    data: dict[str, Any] = admin_list_user(forum, user) | {
        "manual_locked_trust_level": None,
        "title": user.get("title"),
        "time_read": 0,
        "staged": bool(user.get("staged")),
        "days_visited": 0,
        "posts_read_count": 0,
        "topics_entered": 0,
        "post_count": tally["post_count"],
        "can_send_activation_email": not user.get("active"),
        "can_activate": not user.get("active"),
        "can_deactivate": bool(user.get("active")) and staff_can,
        "can_change_trust_level": staff_can,
        "ip_address": "127.0.0.1",
        "registration_ip_address": "127.0.0.1",
        "can_grant_admin": staff_can and not user.get("admin"),
        "can_revoke_admin": staff_can and bool(user.get("admin")),
        "can_grant_moderation": staff_can and not user.get("moderator"),
        "can_revoke_moderation": staff_can and bool(user.get("moderator")),
        "can_impersonate": False,
        "like_count": tally["like_count"],
        "like_given_count": tally["like_given_count"],
        "topic_count": tally["topic_count"],
        "flags_given_count": 0,
        "flags_received_count": 0,
        "private_topics_count": 0,
        "can_delete_all_posts": staff_can,
        "can_be_deleted": staff_can and tally["post_count"] == 0,
        "can_be_anonymized": staff_can,
        "can_be_merged": staff_can,
        "full_suspend_reason": user.get("suspend_reason"),
        "silence_reason": user.get("silence_reason"),
        "primary_group_id": None,
        "badge_count": tally["badge_count"],
        "warnings_received_count": 0,
        "bounce_score": 0,
        "reset_bounce_score_after": None,
        "can_view_action_logs": True,
        "can_disable_second_factor": False,
        "can_delete_sso_record": user.get("external_id") is not None,
        "api_key_count": 0,
        "single_sign_on_record": None,
        "approved_by": None,
        "suspended_by": None,
        "silenced_by": None,
        "groups": [group_basic(forum, g) for g in user_groups(forum, user)],
        "external_ids": {"discourse_connect": user["external_id"]}
        if user.get("external_id")
        else {},
        "include_ip": True,
    }
    for key in ("email", "suspended_till"):
        data.pop(key)
    return data


def admin_list_user(forum: Forum, user: dict[str, Any]) -> dict[str, Any]:
    """AdminUserListSerializer (GET /admin/users/list/{flag}.json entries)."""
    return user_basic(user) | {
        "name": user.get("name"),
        "email": user.get("email"),
        "active": bool(user.get("active")),
        "admin": bool(user.get("admin")),
        "moderator": bool(user.get("moderator")),
        "last_seen_at": user.get("last_seen_at"),
        "last_emailed_at": None,
        "created_at": user["created_at"],
        "last_seen_age": None,
        "last_emailed_age": None,
        "created_at_age": 0.0,
        "trust_level": user["trust_level"],
        "manual_locked_trust_level": None,
        "title": user.get("title"),
        "time_read": 0,
        "staged": bool(user.get("staged")),
        "days_visited": 0,
        "posts_read_count": 0,
        "topics_entered": 0,
        "post_count": counts(forum, user)["post_count"],
        "suspended_till": user.get("suspended_till"),
    }


def webhook_user(forum: Forum, user: dict[str, Any]) -> dict[str, Any]:
    """WebHookUserSerializer: the user as the system (admin) sees it, email and external_id too."""
    profile = user_profile(forum, user, forum.table("users")[-1])
    keep = [
        "id",
        "username",
        "name",
        "avatar_template",
        "last_posted_at",
        "last_seen_at",
        "created_at",
        "muted",
        "trust_level",
        "moderator",
        "admin",
        "title",
        "badge_count",
        "time_read",
        "recent_time_read",
        "primary_group_id",
        "primary_group_name",
        "flair_group_id",
        "flair_name",
        "flair_url",
        "flair_bg_color",
        "flair_color",
        "featured_topic",
        "staged",
        "pending_count",
        "profile_view_count",
        "second_factor_enabled",
        "can_upload_profile_header",
        "can_upload_user_card_background",
        "post_count",
        "locale",
        "muted_category_ids",
        "regular_category_ids",
        "watched_tags",
        "watching_first_post_tags",
        "tracked_tags",
        "muted_tags",
        "tracked_category_ids",
        "watched_category_ids",
        "watched_first_post_category_ids",
        "system_avatar_template",
        "muted_usernames",
        "ignored_usernames",
        "allowed_pm_usernames",
        "mailing_list_posts_per_day",
        "user_notification_schedule",
        "accepted_answers",  # discourse-solved, which the sandbox runs
        "featured_user_badge_ids",
        "invited_by",
        "groups",
        "user_option",
    ]
    data = {k: profile[k] for k in keep}
    data["email"] = user.get("email")
    data["secondary_emails"] = []
    # Whether the scope user (system) may ignore or mute users: in the newest key list of
    # spec/serializers/web_hook_user_serializer_spec.rb.
    data["can_ignore_users"] = True
    data["can_mute_users"] = True
    if user.get("external_id"):
        data["external_id"] = user["external_id"]
    return data
