"""Discourse webhook bodies -> Events: which events we read, and how each becomes an Event.

Pure functions (no Flask, no store), so the fixtures test them directly and the forum
poller can build the same ``event_id`` for the same change.

``event_id`` = ``forum:<event>:<subject>`` plus a version marker when one object can
produce the event several times: the post ``version`` for edits, otherwise a short digest
of the object as serialised (a poller that reads the same serializer output builds the
same digest). Creations happen once per object and need no marker; a like once per
post and user. Accepting a solution is different: accept, unaccept and accept again send
the same object twice, so solved events are told apart by the delivery id (Discourse's
own retries of one accept then arrive as two events; the credit handler is idempotent by
state, not by event).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.events import Event
from core.times import parse_time

# Event name -> the body's type (its top-level key, X-Discourse-Event-Type, and the schema
# that checks it). The names are those Discourse sends in X-Discourse-Event, which are the
# names an admin subscribes to (db/fixtures/007_web_hook_event_types.rb), fired from
# config/initializers/012-web_hook_events.rb unless noted.
READ: Mapping[str, str] = {
    "post_created": "post",
    "post_edited": "post",
    "post_destroyed": "post",  # lib/post_destroyer.rb
    "post_recovered": "post",  # lib/post_destroyer.rb
    "topic_created": "topic",
    "topic_edited": "topic",
    "topic_destroyed": "topic",  # lib/post_destroyer.rb
    "topic_recovered": "topic",  # lib/post_destroyer.rb
    "user_created": "user",
    "user_updated": "user",
    "post_liked": "like",  # fired on Discourse's internal like_created event
    "accepted_solution": "solved",  # discourse-solved (bundled with Discourse since 2025)
    "unaccepted_solution": "solved",  # discourse-solved
    "user_badge_granted": "user_badge",
    "user_badge_revoked": "user_badge",
    "user_added_to_group": "group_user",  # app/models/group.rb
    "user_removed_from_group": "group_user",  # app/models/group.rb
}


# Real Discourse event names we do not read: answered 200 and counted, never stored.
# Same sources as READ, plus the official plugins' own (discourse-assign, topic voting,
# chat) and the concern every destroyable model includes (HasDestroyedWebHook).
KNOWN_UNREAD: frozenset[str] = frozenset(
    {
        "user_logged_in",
        "user_logged_out",
        "user_confirmed_email",
        "user_approved",
        "user_destroyed",
        "user_suspended",
        "user_unsuspended",
        "user_promoted",
        "group_created",
        "group_updated",
        "group_destroyed",
        "category_created",
        "category_updated",
        "category_destroyed",
        "tag_created",
        "tag_updated",
        "tag_destroyed",
        "reviewable_created",
        "reviewable_score_updated",
        "reviewable_transitioned_to",
        "notification_created",
        "assigned",  # discourse-assign
        "unassigned",
        "topic_upvote",  # topic voting
        "topic_unvote",
        "chat_message_created",  # chat
        "chat_message_edited",
        "chat_message_trashed",
        "chat_message_restored",
    }
)


def is_real_unread(event_name: str) -> bool:
    """A Discourse event we know exists but do not read (topic status updates included)."""
    if event_name.startswith("topic_") and event_name.endswith("_status_updated"):
        return True
    return event_name in KNOWN_UNREAD


def content_key(event_name: str, raw_body: bytes) -> str:
    """The same change sent again under a new delivery id (an automatic retry) has this key."""
    return hashlib.sha256(event_name.encode() + b"\n" + raw_body).hexdigest()


def digest(obj: Any) -> str:
    """A short, order-independent digest of a JSON object."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _subject(body_type: str, obj: Mapping[str, Any]) -> str:
    if body_type in ("post", "solved"):
        return f"post:{obj['id']}"
    if body_type == "like":
        return f"post:{obj['post']['id']}"
    if body_type == "group_user":
        return f"group:{obj['group_id']}:user:{obj['user_id']}"
    return f"{body_type}:{obj['id']}"


def _actor(event_name: str, body_type: str, obj: Mapping[str, Any]) -> str | None:
    """Who caused it, when the payload says. It names authors, not editors: for edits,
    deletions and the like Discourse does not say who acted, so the actor is unknown
    (None) rather than the author, or a human's edit of a bot-authored post would be
    mistaken for our own echo."""
    if body_type == "like":
        return str(obj["user"]["username"])
    if event_name == "topic_created":
        creator = obj.get("created_by") or {}
        return str(creator["username"]) if creator.get("username") else None
    if event_name in ("post_created", "user_created"):
        return str(obj["username"])
    return None


def _occurred_at(event_name: str, obj: Mapping[str, Any], received: datetime) -> datetime:
    order: tuple[str, ...]
    if event_name.endswith("_destroyed"):
        order = ("deleted_at", "updated_at", "created_at")
    elif event_name.endswith("_created") or event_name == "user_added_to_group":
        order = ("created_at", "granted_at")
    else:
        # Not created_at: a topic payload carries no updated_at, and an edit or recovery
        # did not happen when the topic was made.
        order = ("updated_at", "granted_at")
    for key in order:
        moment = parse_time(obj.get(key))
        if moment is not None:
            return moment
    return received  # likes, topic edits and some plugin payloads carry no time of their own


def event_id_for(
    event_name: str, body_type: str, obj: Mapping[str, Any], delivery_id: str | None = None
) -> str:
    """The stable id of this change, the same whichever path (webhook, poll) sees it;
    solved events (webhook only) are one per delivery (a body sent without a delivery id
    falls back to the object's digest)."""
    base = f"forum:{event_name}:{_subject(body_type, obj)}"
    if body_type == "solved" and delivery_id:
        return f"{base}:delivery:{delivery_id}"
    if event_name in ("post_created", "topic_created", "user_created"):
        return base
    if body_type == "like":  # one like per post and user
        return f"{base}:user:{obj['user']['id']}"
    if event_name == "post_edited" and isinstance(obj.get("version"), int):
        # Edits in Discourse's grace period keep the version: the time tells them apart.
        return f"{base}:v{obj['version']}:{obj.get('updated_at') or digest(obj)}"
    return f"{base}:{digest(obj)}"


def kind_of(event_name: str) -> str:
    """The kind of a Discourse event we read (core/event_kinds.py lists each one)."""
    return f"forum.{event_name}"


def normalise(
    event_name: str,
    body: Mapping[str, Any],
    raw_body: bytes,
    *,
    delivery_id: str | None,
    received: datetime,
) -> Event:
    """The Event of a schema-valid body of an event in READ."""
    body_type = READ[event_name]
    obj: Mapping[str, Any] = body[body_type]
    # A re-accept's body equals the first accept's: a content key would drop it.
    dedupe = None if body_type == "solved" else content_key(event_name, raw_body)
    return Event(
        event_id=event_id_for(event_name, body_type, obj, delivery_id),
        kind=kind_of(event_name),
        source="forum",
        subject=_subject(body_type, obj),
        actor=_actor(event_name, body_type, obj),
        occurred_at=_occurred_at(event_name, obj, received),
        delivery_id=delivery_id,
        payload=dict(body),
        dedupe_key=dedupe,
    )
