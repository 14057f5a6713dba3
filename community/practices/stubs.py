"""Stub suggestions: practice tags people made on the forum with no practice page, each
offered to moderators once. Both the page sync and the topic tagging make them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.practices.models import PracticeSuggestion, PracticeTagName
from community.practices.tags import readable_title
from connectors.discourse.client import ForumClient
from connectors.discourse.records import TagGroup
from core.config import Settings
from core.store import dialect_insert


def suggest_stubs(session: Session, forum: ForumClient, settings: Settings) -> list[str]:
    """Practice tags people made on the forum (in the practices tag group, owned by no
    practice) become stub suggestions, once each; returns the new ones' tags."""
    group = practice_group(forum, settings)
    if group is None:
        return []
    return suggest_stub_tags(session, group.tag_names)


def suggest_stub_tags(session: Session, tags: Iterable[str]) -> list[str]:
    """Stub suggestions for those of ``tags`` no practice owns (never again once made)."""
    owned = set(session.scalars(select(PracticeTagName.name)).all())
    new: list[str] = []
    for tag in tags:
        if tag in owned:
            continue
        row: dict[str, Any] = {
            "key": f"tag:{tag}",
            "kind": "stub",
            "tag": tag,
            "title": readable_title(tag),
            "reasons": [f"tag {tag!r} in the practices tag group has no practice page"],
        }
        insert = dialect_insert(session, PracticeSuggestion).values(**row)
        # RETURNING tells inserted from skipped on both dialects (rowcount is unreliable).
        statement = insert.on_conflict_do_nothing().returning(PracticeSuggestion.id)
        if session.execute(statement).scalar() is not None:
            new.append(tag)
    session.flush()
    return new


def practice_group_tags(forum: ForumClient, settings: Settings) -> tuple[str, ...]:
    group = practice_group(forum, settings)
    return group.tag_names if group is not None else ()


def practice_group(forum: ForumClient, settings: Settings) -> TagGroup | None:
    """The forum's practices tag group (``practices.tag_group``), or None."""
    name = str(settings["practices"]["tag_group"])
    return next((g for g in forum.tag_groups() if g.name == name), None)
