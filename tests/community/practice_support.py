"""Shared set-up for the practice tests: a SyncRig on SQLite or PostgreSQL with its own
practices category and tag group, so full syncs see only the test's own pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from community.handling import HandlerContext
from community.practices.handlers import sync_practice, tag_forum_topic
from sandbox.forum.state import ForumEvent
from tests.community.constellations.sync_support import SyncRig, on_store
from webhooks.incoming.discourse_events import READ, normalise
from webhooks.incoming.wiki_events import change_event

BODY = "A first post that is comfortably longer than twenty characters."


def practice_rig(rig: SyncRig, store_url: str) -> SyncRig:
    """The rig on ``store_url`` with a practices category and tag group of its own."""
    on_store(rig, store_url)
    rig.settings["practices"]["category"] = "Category:" + rig.session_wiki.title("Practices")
    rig.settings["practices"]["tag_group"] = rig.session_forum.name("practices-")
    return rig


def practice_text(rig: SyncRig, *, summary: str = "One win a week", **extra: str) -> str:
    lines = [
        "{{Practice",
        f"| summary = {summary}",
        "| originating_organisation = Harbour Food Bank",
        "| adopted_by = North Pantry",
        "| related_constellations = Food data standard",
    ]
    lines += [f"| {name} = {value}" for name, value in extra.items()]
    category = rig.settings["practices"]["category"]
    return "\n".join(lines) + f"\n}}}}\n\nHuman text about the practice.\n\n[[{category}]]\n"


def make_practice(rig: SyncRig, prefix: str, **extra: str) -> str:
    title = rig.session_wiki.title(prefix)
    rig.session_wiki.human().edit(title, practice_text(rig, **extra), summary="t", mode="create")
    return title


def create_topic(
    rig: SyncRig, title: str, raw: str = BODY, *, tags: list[str] | None = None, **fields: Any
) -> int:
    if tags is not None:
        fields["tags[]"] = tags
    answer = rig.session_forum.client().create_post(raw, title=title, **fields)
    return int(answer["topic_id"])


def run_forum_events(rig: SyncRig, events: list[ForumEvent]) -> None:
    """The practice handler for each forum event, normalised as a webhook would be."""
    for item in events:
        if item.event_name not in READ or item.event_type not in ("topic", "post"):
            continue
        body = {item.event_type: item.payload}
        event = normalise(
            item.event_name,
            body,
            json.dumps(body).encode(),
            delivery_id=None,
            received=datetime.now(UTC),
        )
        with rig.store.session() as session:
            tag_forum_topic(event, HandlerContext(session, rig.settings))


def run_wiki_events(rig: SyncRig, titles: set[str], since: str | None) -> list[str]:
    """The practice handler for the wiki's changes to ``titles`` since ``since``."""
    kinds = []
    for change in rig.wiki.recent_changes(since):
        params = change.log_params or {}
        if change.title in titles or params.get("target_title") in titles:
            event = change_event(change)
            kinds.append(event.kind)
            with rig.store.session() as session:
                sync_practice(event, HandlerContext(session, rig.settings))
    return kinds
