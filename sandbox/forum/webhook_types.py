"""Discourse's webhook event types: the subscribable names, their ids and the name aliases."""

from __future__ import annotations

# WebHookEventType::TYPES: the ids a hook stores in web_hook_event_type_ids.
EVENT_TYPE_IDS: dict[str, int] = {
    "topic_created": 101,
    "topic_revised": 102,
    "topic_edited": 103,
    "topic_destroyed": 104,
    "topic_recovered": 105,
    "post_created": 201,
    "post_edited": 202,
    "post_destroyed": 203,
    "post_recovered": 204,
    "user_logged_in": 301,
    "user_logged_out": 302,
    "user_confirmed_email": 303,
    "user_created": 304,
    "user_approved": 305,
    "user_updated": 306,
    "user_destroyed": 307,
    "user_suspended": 308,
    "user_unsuspended": 309,
    "group_created": 401,
    "group_updated": 402,
    "group_destroyed": 403,
    "category_created": 501,
    "category_updated": 502,
    "category_destroyed": 503,
    "tag_created": 601,
    "tag_updated": 602,
    "tag_destroyed": 603,
    "reviewable_created": 901,
    "reviewable_updated": 902,
    "notification_created": 1001,
    "solved_accepted_solution": 1101,
    "solved_unaccepted_solution": 1102,
    "assign_assigned": 1201,
    "assign_unassigned": 1202,
    "user_badge_granted": 1301,
    "user_badge_revoked": 1302,
    "group_user_added": 1401,
    "group_user_removed": 1402,
    "like_created": 1501,
    "user_promoted_created": 1601,
    "voting_topic_upvote": 1701,
    "voting_topic_unvote": 1702,
    "chat_message_created": 1801,
    "chat_message_edited": 1802,
    "chat_message_trashed": 1803,
    "chat_message_restored": 1804,
}
EVENT_TYPE_NAMES: dict[int, str] = {type_id: name for name, type_id in EVENT_TYPE_IDS.items()}

# A new hook without explicit types listens to post events, as the admin UI preselects.
DEFAULT_EVENT_TYPES = ("post_created", "post_edited", "post_destroyed", "post_recovered")

# Event names that are not themselves type names (EVENT_NAME_TO_EVENT_TYPE_MAP and the
# older DiscourseEvent names for group membership and likes).
EVENT_NAME_ALIASES: dict[str, str] = {
    "reviewable_score_updated": "reviewable_updated",
    "reviewable_transitioned_to": "reviewable_updated",
    "user_added_to_group": "group_user_added",
    "user_removed_from_group": "group_user_removed",
    "post_liked": "like_created",
}

CONTENT_TYPES: dict[int, str] = {1: "application/json", 2: "application/x-www-form-urlencoded"}

# WebHook.last_delivery_statuses
DELIVERY_STATUSES: dict[str, int] = {"inactive": 1, "failed": 2, "successful": 3, "disabled": 4}


def subscription_name(event_name: str) -> str:
    """The subscribable type an emitted event name is matched against."""
    if event_name.startswith("topic_") and event_name.endswith("_status_updated"):
        return "topic_edited"
    return EVENT_NAME_ALIASES.get(event_name, event_name)


def group_of(type_name: str) -> str:
    """The group shown in the admin UI: the part before the last word ("topic", "user"...)."""
    return type_name.rsplit("_", 1)[0]
