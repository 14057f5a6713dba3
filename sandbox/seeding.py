"""Seed the example partnership into whatever forum the configuration names and into a
sandbox wiki (its history is imported with the wiki's maintenance scripts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.discourse.client import ForumClient
from sandbox.example import seed_forum
from sandbox.example_state import seed_forum_state
from sandbox.forum.state import Forum
from sandbox.wiki import WikiSandbox
from sandbox.wiki_seed import seed_wiki


def seed_configured(
    settings: dict[str, Any],
    *,
    wiki: WikiSandbox,
    now: datetime,
    forum_state: Forum | None = None,
) -> list[str]:
    """Write the example as of ``now`` to the configured forum (if any) and to the sandbox
    ``wiki``; say what was made.

    With ``forum_state`` (the configured forum is a sandbox this process runs) the forum
    side is written straight into its state, without spending its API rate limit.
    """
    lines = []
    if forum_state is not None or settings["forum"]["url"]:
        if forum_state is not None:
            forum = seed_forum_state(forum_state, now=now)
        else:
            forum = seed_forum(ForumClient(settings["forum"]), now=now)
        lines.append(
            f"forum: {forum.groups_created} groups, {forum.users_created} people, "
            f"{forum.categories_created} categories, {forum.topics_created} topics, "
            f"{forum.posts_created} posts, {forum.likes} likes, {forum.solutions} solutions"
        )
    history = seed_wiki(wiki, now)
    lines.append(
        f"wiki: {history.partners_created} partner pages, "
        f"{history.constellations_created} constellation pages, "
        f"{history.practices_created} practice pages, "
        f"{history.revisions} revisions by {history.editors} people"
    )
    return lines
