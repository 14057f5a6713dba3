"""The two checks of a Discourse webhook body: a cheap one before it is recorded, the
full one when a worker takes it.

Receiving must be fast (Discourse waits for the answer, and a slow receiver is one that
drops deliveries), so the receiver checks only what building the inbox row reads: the
body's object and the fields that make the event's id, subject, actor and time. The
JSON-schema check of the whole body (``schemas/discourse/``) runs in the worker; a body
failing it becomes a dead event whose reason names the field, and the sender, whose
delivery was valid as far as it could know, is never answered with an error for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.events import Event
from webhooks.incoming.discourse_events import READ

INVALID_BODY = "the body does not match schemas/discourse/{}: {}: {}"

# Per body type: the fields that building the Event reads (discourse_events), by path
# below the body's object, with the JSON types allowed. "?" marks one that may be absent.
_INT = (int,)
_TEXT = (str,)
_POST = (("id", _INT), ("username?", _TEXT), ("created_at?", _TEXT), ("updated_at?", _TEXT))
NEEDED: Mapping[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    "post": (*_POST, ("deleted_at?", (str, type(None))), ("version?", _INT)),
    "solved": _POST,
    "topic": (("id", _INT), ("created_by?", (dict,)), ("created_at?", _TEXT)),
    "user": (("id", _INT), ("username?", _TEXT)),
    "like": (("post", (dict,)), ("post.id", _INT), ("user", (dict,)), ("user.id", _INT)),
    "user_badge": (("id", _INT), ("granted_at?", _TEXT)),
    "group_user": (("group_id", _INT), ("user_id", _INT)),
}
# Fields an event names its actor by: required for these events only.
ACTOR_NEEDED: Mapping[str, str] = {
    "post_created": "username",
    "user_created": "username",
    "post_liked": "user.username",
}


def quick_problem(event_name: str, body: Any) -> str | None:
    """What keeps the receiver from building the event of this body, or None: the body's
    object missing, or one of the few fields the inbox row is made of missing or of the
    wrong type (a JSON path and what was expected, as the schema check would say)."""
    body_type = READ[event_name]
    if not isinstance(body, dict):
        return "$: the body is not a JSON object"
    obj = body.get(body_type)
    if not isinstance(obj, dict):
        return f"$: '{body_type}' is a required object"
    needed = NEEDED[body_type]
    actor = ACTOR_NEEDED.get(event_name)
    if actor is not None:
        needed = (*needed, (actor, _TEXT))
    for path, types in needed:
        optional = path.endswith("?")
        value = _at(obj, path.rstrip("?"))
        if value is _MISSING and optional:
            continue
        # bool is an int in Python, not in JSON.
        if value is _MISSING or isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else _JSON_NAMES[t] for t in types)
            return f"$.{body_type}.{path.rstrip('?')}: expected {names}"
    return None


def full_problem(event: Event) -> str | None:
    """Why the body of a Discourse event fails its full JSON schema, or None (also for
    events that are not Discourse's). Run by the worker before any handler, for events
    the receiver recorded with ``body_checked`` false."""
    event_name = event.kind.removeprefix("forum.")
    if event.source != "forum" or event_name not in READ:
        return None
    import schemas  # here: jsonschema is the worker's to load, not the receiver's

    body_type = READ[event_name]
    problem = next(
        iter(schemas.validator(f"discourse/{body_type}").iter_errors(event.payload)), None
    )
    if problem is None:
        return None
    return INVALID_BODY.format(body_type, problem.json_path, problem.message)


_MISSING = object()
_JSON_NAMES = {int: "an integer", str: "a string", dict: "an object"}


def _at(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value
