"""Discourse's webhook event types: the names a site admin subscribes to, their ids and groups.

Every name, id and group below is Discourse's own, not the sandbox's:

* names and groups: ``db/fixtures/007_web_hook_event_types.rb`` (the seeded
  ``web_hook_event_types`` rows, ``b.name`` and ``b.group``);
* ids: ``WebHookEventType::TYPES`` in ``app/models/web_hook_event_type.rb`` (the seed uses
  them as ``b.id``), e.g. ``TYPES[:like_created] = 1501`` seeded with name ``post_liked``.

The names are also what ``X-Discourse-Event`` carries: the emitters in
``config/initializers/012-web_hook_events.rb`` pass the same symbols (``:post_liked``,
``:user_added_to_group``...) and discourse-solved sends ``accepted_solution`` /
``unaccepted_solution``. The Ruby constant names (``like_created``,
``solved_accepted_solution``, ``group_user_added``...) are never sent and are not used here.
"""

from __future__ import annotations

# (name, id, group) in the seed file's order.
EVENT_TYPES: tuple[tuple[str, int, str], ...] = (
    ("topic_created", 101, "topic"),
    ("topic_revised", 102, "topic"),
    ("topic_edited", 103, "topic"),
    ("topic_destroyed", 104, "topic"),
    ("topic_recovered", 105, "topic"),
    ("post_created", 201, "post"),
    ("post_edited", 202, "post"),
    ("post_destroyed", 203, "post"),
    ("post_recovered", 204, "post"),
    ("user_logged_in", 301, "user"),
    ("user_logged_out", 302, "user"),
    ("user_confirmed_email", 303, "user"),
    ("user_created", 304, "user"),
    ("user_approved", 305, "user"),
    ("user_updated", 306, "user"),
    ("user_destroyed", 307, "user"),
    ("user_suspended", 308, "user"),
    ("user_unsuspended", 309, "user"),
    ("group_created", 401, "group"),
    ("group_updated", 402, "group"),
    ("group_destroyed", 403, "group"),
    ("category_created", 501, "category"),
    ("category_updated", 502, "category"),
    ("category_destroyed", 503, "category"),
    ("tag_created", 601, "tag"),
    ("tag_updated", 602, "tag"),
    ("tag_destroyed", 603, "tag"),
    ("reviewable_created", 901, "reviewable"),
    ("reviewable_updated", 902, "reviewable"),
    ("notification_created", 1001, "notification"),
    # discourse-solved (TYPES[:solved_accepted_solution] / [:solved_unaccepted_solution])
    ("accepted_solution", 1101, "solved"),
    ("unaccepted_solution", 1102, "solved"),
    # discourse-assign (TYPES[:assign_assigned] / [:assign_unassigned])
    ("assigned", 1201, "assign"),
    ("unassigned", 1202, "assign"),
    ("user_badge_granted", 1301, "user_badge"),
    ("user_badge_revoked", 1302, "user_badge"),
    # TYPES[:group_user_added] / [:group_user_removed]
    ("user_added_to_group", 1401, "group_user"),
    ("user_removed_from_group", 1402, "group_user"),
    # TYPES[:like_created]
    ("post_liked", 1501, "like"),
    # TYPES[:user_promoted_created]
    ("user_promoted", 1601, "user_promoted"),
    # discourse-topic-voting (TYPES[:voting_topic_upvote] / [:voting_topic_unvote])
    ("topic_upvote", 1701, "voting"),
    ("topic_unvote", 1702, "voting"),
    ("chat_message_created", 1801, "chat"),
    ("chat_message_edited", 1802, "chat"),
    ("chat_message_trashed", 1803, "chat"),
    ("chat_message_restored", 1804, "chat"),
)
EVENT_TYPE_IDS: dict[str, int] = {name: type_id for name, type_id, _group in EVENT_TYPES}
EVENT_TYPE_NAMES: dict[int, str] = {type_id: name for name, type_id, _group in EVENT_TYPES}
EVENT_TYPE_GROUPS: dict[str, str] = {name: group for name, _type_id, group in EVENT_TYPES}

# A new hook without explicit types listens to post events, as the admin UI preselects.
DEFAULT_EVENT_TYPES = ("post_created", "post_edited", "post_destroyed", "post_recovered")

# WebHook::EVENT_NAME_TO_EVENT_TYPE_MAP: emitted names that are not subscribable names
# themselves, and the type a hook must subscribe to for them.
EVENT_NAME_TO_EVENT_TYPE: dict[str, str] = {
    "reviewable_score_updated": "reviewable_updated",
    "reviewable_transitioned_to": "reviewable_updated",
}

CONTENT_TYPES: dict[int, str] = {1: "application/json", 2: "application/x-www-form-urlencoded"}

# WebHook.last_delivery_statuses
DELIVERY_STATUSES: dict[str, int] = {"inactive": 1, "failed": 2, "successful": 3, "disabled": 4}


def subscription_name(event_name: str) -> str:
    """The subscribable type an emitted event name is matched against."""
    if event_name.startswith("topic_") and event_name.endswith("_status_updated"):
        return "topic_edited"
    return EVENT_NAME_TO_EVENT_TYPE.get(event_name, event_name)


def group_of(type_name: str) -> str:
    """The seeded ``group`` of a type (shown as a heading in the admin UI)."""
    return EVENT_TYPE_GROUPS[type_name]
