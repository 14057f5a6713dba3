"""Rule actions on the forum: tag, untag, reply, create_topic, message and badge.

Each is done once per action key (``ActionEnv.key``), however often it is retried:
topics and messages carry an external id made from the key, tags are written as the
full wanted set, a retried reply first looks for itself, a badge is granted only when
not held. Permanent refusals (an unknown category or user, a title the forum rejects)
become ActionError; RateLimited and Unavailable pass through for the engine to retry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from community.practices.tags import TagError, check_tag
from connectors.discourse.client import ForumClient
from core.errors import InvalidRequest, NotFound, PermissionDenied
from webhooks.automations.vocabulary import ActionEnv, ActionError, Outcome

# Discourse usernames and group names: letters, digits, "_", "." and "-".
FORUM_NAME = re.compile(r"[\w.-]{1,60}")
TAG_LIMIT = 100  # the longest tag a practice or rule may name (the store's column)
EXTERNAL_PREFIX = "constellate-rule-"  # + 24 hex digits: 41 of Discourse's 50 characters
BADGE_NAME_LIMIT = 100
BRONZE = 3


def check_forum_name(name: str, what: str) -> str:
    """A forum username or group name as written ("@" allowed in front)."""
    cleaned = name.strip().removeprefix("@")
    if not FORUM_NAME.fullmatch(cleaned):
        raise ActionError(
            f"{what} {name!r}: not a forum name (letters, digits, _ . and -, at most 60)"
        )
    return cleaned


def check_tags(tags: Iterable[str], what: str) -> list[str]:
    checked: list[str] = []
    for tag in tags:
        try:
            check_tag(tag, max_length=TAG_LIMIT)
        except TagError as exc:
            raise ActionError(f"{what}: {exc}") from None
        if tag not in checked:
            checked.append(tag)
    return checked


def external_id(key: str) -> str:
    """The forum external id of what the action with ``key`` creates (stable on retry)."""
    return EXTERNAL_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24]


def marked(objects: tuple[str, ...], changed: bool, env: ActionEnv) -> tuple[str, ...]:
    """The objects to mark as this rule's doing: those changed now, or on a retry those
    an earlier attempt may have changed."""
    return objects if changed or env.retry else ()


@contextmanager
def refused(what: str) -> Iterator[None]:
    """The forum's permanent refusals as ActionError, saying what was refused."""
    try:
        yield
    except (NotFound, PermissionDenied, InvalidRequest) as exc:
        raise ActionError(f"{what}: the forum refused it: {exc}") from exc


def _acting(env: ActionEnv, username: str | None) -> ForumClient:
    forum = env.forum()
    return forum.acting_as(username) if username else forum


# -- tags ---------------------------------------------------------------------------------


def perform_tag(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    return _retag(params, env, add=True)


def perform_untag(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    return _retag(params, env, add=False)


def _retag(params: Mapping[str, Any], env: ActionEnv, *, add: bool) -> Outcome:
    topic_id = int(params["topic_id"])
    tags: Sequence[str] = params["tags"]
    forum = env.forum()
    with refused(f"topic {topic_id}"):
        current = list(forum.get_topic(topic_id).tags)
    if add:
        wanted = current + [tag for tag in tags if tag not in current]
    else:
        wanted = [tag for tag in current if tag not in tags]
    changed = wanted != current
    if changed:
        with refused(f"tags of topic {topic_id}"):
            forum.update_topic(topic_id, tags=wanted)
    verb = "tagged" if add else "untagged"
    done = f"{verb} topic {topic_id}: {', '.join(tags)}" if changed else "tags already as wanted"
    return Outcome(done, marked((f"topic:{topic_id}",), changed, env))


# -- posts --------------------------------------------------------------------------------


def perform_reply(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    topic_id, raw = int(params["topic_id"]), str(params["raw"])
    forum = _acting(env, params.get("as"))
    if env.retry:
        earlier = _own_post(forum, topic_id, raw)
        if earlier is not None:
            return Outcome(
                f"already replied in topic {topic_id} (post {earlier})",
                (f"post:{earlier}", f"topic:{topic_id}"),
            )
    with refused(f"reply in topic {topic_id}"):
        post = forum.reply(topic_id, raw)
    return Outcome(
        f"replied in topic {topic_id} (post {post.id})", (f"post:{post.id}", f"topic:{topic_id}")
    )


def _own_post(forum: ForumClient, topic_id: int, raw: str) -> int | None:
    """The id of a post of ours in the topic with exactly ``raw`` (an earlier attempt
    that replied but did not live to record it)."""
    ours = forum.username.casefold()
    with refused(f"topic {topic_id}"):
        posts = forum.get_topic(topic_id).posts
    for post in posts:
        if post.username.casefold() == ours and (post.raw or "").strip() == raw.strip():
            return post.id
    return None


def perform_create_topic(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    forum = _acting(env, params.get("as"))
    category = params.get("category")
    category_id = resolve_category(env.forum(), category) if category else None
    with refused(f"topic {params['title']!r}"):
        created = forum.create_topic(
            str(params["title"]),
            str(params["raw"]),
            category_id=category_id,
            external_id=external_id(env.key),
            tags=params.get("tags") or (),
        )
    objects = [f"topic:{created.topic_id}"]
    if created.post_id is not None:
        objects.append(f"post:{created.post_id}")
    verb = "created" if created.created else "already created"
    return Outcome(f"{verb} topic {created.topic_id}", tuple(objects))


def perform_message(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    recipients: list[str] = list(params["to"])
    with refused(f"message to {', '.join(recipients)}"):
        created = env.forum().send_message(
            str(params["title"]), str(params["raw"]), recipients, external_id=external_id(env.key)
        )
    verb = "sent" if created.created else "already sent"
    return Outcome(
        f"{verb} message {created.topic_id} to {', '.join(recipients)}",
        (f"topic:{created.topic_id}",),
    )


def resolve_category(forum: ForumClient, value: Any) -> int:
    """A category named by id or by name (case-insensitive; a top-level one first)."""
    text = str(value).strip()
    categories = forum.categories()
    if text.isdigit():
        if any(category.id == int(text) for category in categories):
            return int(text)
        raise ActionError(f"category {text}: the forum has no category with this id")
    wanted = text.casefold()
    found = [c for c in categories if c.name.strip().casefold() == wanted]
    if not found:
        raise ActionError(f"category {text!r}: the forum has no category with this name")
    found.sort(key=lambda c: (c.parent_category_id is not None, c.id))
    return found[0].id


# -- badges -------------------------------------------------------------------------------


def perform_badge(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    """Grant the badge (made when the forum has none of that name) to each person once."""
    forum = env.forum()
    name = str(params["badge"])
    badge = next((b for b in forum.badges() if b.name.casefold() == name.casefold()), None)
    if badge is None:
        with refused(f"badge {name!r}"):
            badge = forum.create_badge(
                name, badge_type_id=BRONZE, description=str(params.get("description") or "")
            )
    granted: list[str] = []
    for username in params["to"]:
        with refused(f"badge {name!r} for {username}"):
            held = any(grant.badge_id == badge.id for grant in forum.user_badges(username))
            if not held:
                forum.grant_badge(username, badge.id, reason=params.get("reason") or None)
                granted.append(username)
    people = ", ".join(params["to"])
    done = f"granted badge {name!r} to {people}" if granted else f"{people} hold {name!r} already"
    changed = params["to"] if env.retry else granted
    return Outcome(done, tuple(f"user:{username}" for username in changed))
