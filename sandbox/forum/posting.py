"""Creating, editing, deleting and recovering posts and topics, with Discourse's validations
and the webhook events Discourse fires for each (PostCreator, PostRevisor, PostDestroyer)."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from sandbox.forum.cooking import Mention, cook
from sandbox.forum.http import ApiError
from sandbox.forum.serial_posts import webhook_post
from sandbox.forum.serial_topics import webhook_topic

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

EXTERNAL_ID_PATTERN = re.compile(r"^[\w-]+$")
EXTERNAL_ID_MAX = 50


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return slug[:100].strip("-") or "topic"


def create_errors(*messages: str) -> ApiError:
    return ApiError(422, {"action": "create_post", "errors": list(messages)})


def clean_tag(forum: Forum, name: str) -> str:
    cleaned = re.sub(r"\s+", "-", name.strip().lower())
    cleaned = re.sub(r"[/?#\[\]@!$&'()*+,;=.%\\`^|{}\"<>]", "", cleaned)
    return cleaned[: int(forum.site_settings["max_tag_length"])]


def ensure_tags(forum: Forum, names: list[str], user: dict[str, Any]) -> list[str]:
    """The cleaned tag names; staff create unknown tags (emitting tag_created), others skip them."""
    known = {t["name"] for t in forum.table("tags").values()}
    # A synonym stands for its target tag: topics given the synonym carry the target.
    targets = {
        t["name"]: forum.table("tags")[t["target_tag_id"]]["name"]
        for t in forum.table("tags").values()
        if t.get("target_tag_id") in forum.table("tags")
    }
    result: list[str] = []
    for raw_name in names:
        name = clean_tag(forum, raw_name)
        name = targets.get(name, name)
        if not name or name in result:
            continue
        if name not in known:
            if not (user.get("admin") or user.get("moderator")):
                continue
            tag = {"name": name, "description": None, "created_at": forum.now_iso()}
            forum.insert("tags", tag)
            known.add(name)
            forum.emit(
                "tag",
                "tag_created",
                {
                    "id": tag["id"],
                    "name": name,
                    "topic_count": 0,
                    "staff": False,
                    "description": None,
                },
            )
        result.append(name)
    return result


def cooked(forum: Forum, raw: str) -> str:
    """The post's HTML, with mentions of the forum's users and groups linked."""
    return cook(raw, base_url=forum.base_url, mention=lambda name: _mentioned(forum, name))


def _mentioned(forum: Forum, name: str) -> Mention | None:
    user = forum.user_by_username(name)
    if user is not None and not user.get("staged"):
        return Mention("user", user["username"])
    wanted = name.lower()
    for group in forum.table("groups").values():
        if group["name"].lower() == wanted:
            # Only "everyone" (99) is modelled as a level that notifies for any author.
            return Mention("group", group["name"], notify=group["mentionable_level"] == 99)
    return None


def topic_posts(forum: Forum, topic_id: int) -> list[dict[str, Any]]:
    return sorted(
        (p for p in forum.table("posts").values() if p["topic_id"] == topic_id),
        key=lambda p: p["post_number"],
    )


def title_errors(forum: Forum, title: str, exclude_topic: int | None = None) -> list[str]:
    errors = []
    minimum = int(forum.site_settings["min_topic_title_length"])
    maximum = int(forum.site_settings["max_topic_title_length"])
    if len(title.strip()) < minimum:
        errors.append(f"Title is too short (minimum is {minimum} characters)")
    if len(title) > maximum:
        errors.append(f"Title is too long (maximum is {maximum} characters)")
    if not forum.site_settings["allow_duplicate_topic_titles"]:
        wanted = title.strip().lower()
        for topic in forum.table("topics").values():
            if (
                topic["id"] != exclude_topic
                and not topic.get("deleted_at")
                and topic["archetype"] == "regular"
                and topic["title"].strip().lower() == wanted
            ):
                errors.append("Title has already been used")
                break
    return errors


def body_errors(forum: Forum, raw: str, first: bool) -> list[str]:
    setting = "min_first_post_length" if first else "min_post_length"
    minimum = int(forum.site_settings[setting])
    if len(raw.strip()) < minimum:
        return [f"Body is too short (minimum is {minimum} characters)"]
    return []


def emit_post(forum: Forum, event_name: str, post: dict[str, Any]) -> None:
    topic = forum.table("topics")[post["topic_id"]]
    forum.emit(
        "post",
        event_name,
        webhook_post(forum, post),
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
    )


def emit_topic(forum: Forum, event_name: str, topic: dict[str, Any]) -> None:
    forum.emit(
        "topic",
        event_name,
        webhook_topic(forum, topic),
        category_id=topic["category_id"],
        tag_names=topic.get("tags", []),
    )


def create_topic(forum: Forum, user: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a new topic and its first post; returns the post."""
    title = str(fields.get("title") or "")
    raw = str(fields.get("raw") or "")
    errors = title_errors(forum, title) + body_errors(forum, raw, first=True)
    # A personal message has no category (its category_id is null, as real payloads show).
    message = fields.get("archetype") == "private_message"
    category_id = None if message else fields.get("category_id") or 1
    if not message and category_id not in forum.table("categories"):
        errors.append("Category can't be blank")
    external_id = fields.get("external_id")
    if external_id is not None:
        errors += external_id_errors(forum, str(external_id))
    if errors:
        raise create_errors(*errors)
    created_at = fields.get("created_at") or forum.now_iso()
    topic = {
        "title": title.strip(),
        "slug": slugify(title),
        "category_id": category_id,
        "user_id": user["id"],
        "created_at": created_at,
        "bumped_at": created_at,
        "last_posted_at": created_at,
        "closed": False,
        "archived": False,
        "visible": True,
        "pinned_at": None,
        "pinned_globally": False,
        "deleted_at": None,
        "archetype": fields.get("archetype") or "regular",
        "allowed_usernames": fields.get("allowed_usernames") or [],
        "allowed_groups": fields.get("allowed_groups") or [],
        "tags": ensure_tags(forum, fields.get("tags") or [], user),
        "external_id": external_id,
        "embed_url": fields.get("embed_url"),
        "accepted_answer_post_id": None,
        "highest_post_number": 0,
        "posts_count": 0,
        "views": 0,
    }
    forum.insert("topics", topic)
    post = _store_post(forum, user, topic, raw, None, created_at)
    emit_topic(forum, "topic_created", topic)
    emit_post(forum, "post_created", post)
    return post


def external_id_errors(forum: Forum, external_id: str) -> list[str]:
    if len(external_id) > EXTERNAL_ID_MAX or not EXTERNAL_ID_PATTERN.match(external_id):
        return ["External ID is invalid"]
    wanted = external_id.lower()
    if any(
        str(t.get("external_id") or "").lower() == wanted for t in forum.table("topics").values()
    ):
        return ["External ID has already been taken"]
    return []


def create_reply(
    forum: Forum, user: dict[str, Any], topic: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    raw = str(fields.get("raw") or "")
    errors = body_errors(forum, raw, first=False)
    staff = bool(user.get("admin") or user.get("moderator"))
    if topic["closed"] and not staff:
        errors.append("Topic is closed; replies are no longer accepted")
    if errors:
        raise create_errors(*errors)
    reply_to = fields.get("reply_to_post_number")
    numbers = {p["post_number"] for p in topic_posts(forum, topic["id"])}
    created_at = fields.get("created_at") or forum.now_iso()
    post = _store_post(
        forum, user, topic, raw, reply_to if reply_to in numbers else None, created_at
    )
    topic["bumped_at"] = max(topic["bumped_at"], created_at)
    emit_post(forum, "post_created", post)
    return post


def _store_post(
    forum: Forum,
    user: dict[str, Any],
    topic: dict[str, Any],
    raw: str,
    reply_to: int | None,
    created_at: str,
) -> dict[str, Any]:
    topic["highest_post_number"] += 1
    topic["posts_count"] += 1
    topic["last_posted_at"] = max(topic["last_posted_at"], created_at)
    post = {
        "topic_id": topic["id"],
        "post_number": topic["highest_post_number"],
        "user_id": user["id"],
        "raw": raw,
        "cooked": cooked(forum, raw),
        "created_at": created_at,
        "updated_at": created_at,
        "reply_to_post_number": reply_to,
        "post_type": 1,
        "version": 1,
        "edit_reason": None,
        "deleted_at": None,
    }
    forum.insert("posts", post)
    user["last_posted_at"] = created_at
    return post


def revise(
    forum: Forum,
    post: dict[str, Any],
    *,
    raw: str | None = None,
    edit_reason: str | None = None,
    title: str | None = None,
    category_id: int | None = None,
    tags: list[str] | None = None,
    editor: dict[str, Any],
) -> bool:
    """PostRevisor: apply changes; fire topic_edited if topic fields changed, else post_edited.

    Returns whether the topic changed. Raises 422 with the validation errors.
    """
    topic = forum.table("topics")[post["topic_id"]]
    errors: list[str] = []
    topic_changes: dict[str, Any] = {}
    if title is not None and title.strip() != topic["title"]:
        errors += title_errors(forum, title, exclude_topic=topic["id"])
        topic_changes |= {"title": title.strip(), "slug": slugify(title)}
    if category_id is not None and category_id != topic["category_id"]:
        if category_id not in forum.table("categories"):
            errors.append("Category can't be blank")
        topic_changes["category_id"] = category_id
    if tags is not None:
        cleaned = ensure_tags(forum, tags, editor)
        if cleaned != topic.get("tags", []):
            topic_changes["tags"] = cleaned
    post_changed = raw is not None and raw != post["raw"]
    if raw is not None:
        errors += body_errors(forum, raw, first=post["post_number"] == 1)
    if errors:
        raise ApiError(422, {"errors": errors, "error_type": "record_invalid"})
    topic.update(topic_changes)
    if post_changed and raw is not None:
        post.update(raw=raw, cooked=cooked(forum, raw), version=post["version"] + 1)
        post["edit_reason"] = edit_reason or None
        post["updated_at"] = forum.now_iso()
    if topic_changes:
        emit_topic(forum, "topic_edited", topic)
    elif post_changed:
        emit_post(forum, "post_edited", post)
    return bool(topic_changes)


def destroy_post(forum: Forum, post: dict[str, Any]) -> None:
    """Soft delete; deleting the first post deletes the topic too."""
    now = forum.now_iso()
    topic = forum.table("topics")[post["topic_id"]]
    post["deleted_at"] = now
    topic["posts_count"] = sum(
        1 for p in topic_posts(forum, topic["id"]) if not p.get("deleted_at")
    )
    emit_post(forum, "post_destroyed", post)
    if post["post_number"] == 1:
        topic["deleted_at"] = now
        emit_topic(forum, "topic_destroyed", topic)


def recover_post(forum: Forum, post: dict[str, Any]) -> None:
    topic = forum.table("topics")[post["topic_id"]]
    post["deleted_at"] = None
    topic["posts_count"] = sum(
        1 for p in topic_posts(forum, topic["id"]) if not p.get("deleted_at")
    )
    emit_post(forum, "post_recovered", post)
    if post["post_number"] == 1 and topic.get("deleted_at"):
        topic["deleted_at"] = None
        emit_topic(forum, "topic_recovered", topic)
