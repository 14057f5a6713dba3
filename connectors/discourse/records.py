"""What the forum connector hands back: small frozen records built from Discourse's JSON.

Each record keeps the fields the product reads by name and the whole payload in ``data``
(perceval-style), so a caller needing a rarer field does not need a new connector method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """Discourse's ISO-8601 times (``2023-02-09T10:19:46.324Z``) as aware UTC datetimes."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """The form Discourse accepts for ``created_at`` (naive times are taken as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tag_names(tags: Any) -> tuple[str, ...]:
    """Tags arrive as names (Discourse ≤ 2024) or as ``{"id","name","slug"}`` (newest)."""
    names = []
    for tag in tags or ():
        names.append(str(tag["name"]) if isinstance(tag, dict) else str(tag))
    return tuple(names)


@dataclass(frozen=True)
class Post:
    id: int
    topic_id: int
    post_number: int
    username: str
    raw: str | None
    created_at: datetime | None
    reply_to_post_number: int | None = None
    post_type: int = 1
    hidden: bool = False
    deleted: bool = False
    topic_title: str | None = None
    category_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Topic:
    id: int
    title: str
    slug: str
    category_id: int | None
    tags: tuple[str, ...]
    posts_count: int
    created_at: datetime | None
    closed: bool = False
    archived: bool = False
    visible: bool = True
    posts: tuple[Post, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CreatedTopic:
    """The outcome of ``create_topic``: ``created`` is False when it already existed."""

    topic_id: int
    external_id: str
    created: bool
    post_id: int | None = None


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str | None
    email: str | None = None
    trust_level: int | None = None
    admin: bool = False
    moderator: bool = False
    created_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    slug: str
    parent_category_id: int | None = None
    color: str | None = None
    description: str | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    full_name: str | None = None
    user_count: int | None = None
    automatic: bool = False
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class TagGroup:
    id: int
    name: str
    tag_names: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Badge:
    id: int
    name: str
    badge_type_id: int
    description: str | None = None
    multiple_grant: bool = False
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class UserBadge:
    id: int
    badge_id: int
    user_id: int | None
    granted_at: datetime | None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def post_from(data: dict[str, Any]) -> Post:
    return Post(
        id=int(data["id"]),
        topic_id=int(data["topic_id"]),
        post_number=int(data.get("post_number") or 0),
        username=str(data.get("username") or ""),
        raw=data.get("raw"),
        created_at=parse_time(data.get("created_at")),
        reply_to_post_number=_int_or_none(data.get("reply_to_post_number")),
        post_type=int(data.get("post_type") or 1),
        hidden=bool(data.get("hidden")),
        deleted=bool(data.get("deleted_at")),
        topic_title=data.get("topic_title"),
        category_id=_int_or_none(data.get("category_id")),
        data=data,
    )


def topic_from(data: dict[str, Any], posts: tuple[Post, ...] = ()) -> Topic:
    return Topic(
        id=int(data["id"]),
        title=str(data.get("title") or ""),
        slug=str(data.get("slug") or ""),
        category_id=_int_or_none(data.get("category_id")),
        tags=tag_names(data.get("tags")),
        posts_count=int(data.get("posts_count") or len(posts)),
        created_at=parse_time(data.get("created_at")),
        closed=bool(data.get("closed")),
        archived=bool(data.get("archived")),
        visible=bool(data.get("visible", True)),
        posts=posts,
        data=data,
    )


def user_from(data: dict[str, Any]) -> User:
    return User(
        id=int(data["id"]),
        username=str(data["username"]),
        name=data.get("name"),
        email=data.get("email"),
        trust_level=_int_or_none(data.get("trust_level")),
        admin=bool(data.get("admin")),
        moderator=bool(data.get("moderator")),
        created_at=parse_time(data.get("created_at")),
        data=data,
    )


def category_from(data: dict[str, Any]) -> Category:
    return Category(
        id=int(data["id"]),
        name=str(data["name"]),
        slug=str(data.get("slug") or ""),
        parent_category_id=_int_or_none(data.get("parent_category_id")),
        color=data.get("color"),
        description=data.get("description"),
        data=data,
    )


def group_from(data: dict[str, Any]) -> Group:
    return Group(
        id=int(data["id"]),
        name=str(data["name"]),
        full_name=data.get("full_name"),
        user_count=_int_or_none(data.get("user_count")),
        automatic=bool(data.get("automatic")),
        data=data,
    )


def tag_group_from(data: dict[str, Any]) -> TagGroup:
    names = data.get("tags") if "tags" in data else data.get("tag_names")
    return TagGroup(
        id=int(data["id"]), name=str(data["name"]), tag_names=tag_names(names), data=data
    )


def badge_from(data: dict[str, Any]) -> Badge:
    return Badge(
        id=int(data["id"]),
        name=str(data["name"]),
        badge_type_id=int(data.get("badge_type_id") or 0),
        description=data.get("description"),
        multiple_grant=bool(data.get("multiple_grant")),
        data=data,
    )


def user_badge_from(data: dict[str, Any]) -> UserBadge:
    return UserBadge(
        id=int(data["id"]),
        badge_id=int(data["badge_id"]),
        user_id=_int_or_none(data.get("user_id")),
        granted_at=parse_time(data.get("granted_at")),
        data=data,
    )


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)
