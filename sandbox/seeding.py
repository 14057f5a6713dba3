"""Seed the example partnership into whatever forum and wiki the configuration names."""

from __future__ import annotations

from typing import Any

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from sandbox.example import seed_forum
from sandbox.example_state import seed_forum_state
from sandbox.forum.state import Forum
from sandbox.wiki_seed import seed_wiki


def seed_configured(settings: dict[str, Any], forum_state: Forum | None = None) -> list[str]:
    """Write the example to the configured forum (if any) and wiki; say what was made.

    With ``forum_state`` (the configured forum is a sandbox this process runs) the forum
    side is written straight into its state, without spending its API rate limit.
    """
    lines = []
    if forum_state is not None or settings["forum"]["url"]:
        if forum_state is not None:
            forum = seed_forum_state(forum_state)
        else:
            forum = seed_forum(ForumClient(settings["forum"]))
        lines.append(
            f"forum: {forum.groups_created} groups, {forum.users_created} people, "
            f"{forum.categories_created} categories, {forum.topics_created} topics, "
            f"{forum.posts_created} posts, {forum.likes} likes, {forum.solutions} solutions"
        )
    wiki = seed_wiki(WikiClient(settings["wiki"]))
    lines.append(
        f"wiki: {wiki.partners_created} partner pages, "
        f"{wiki.constellations_created} constellation pages, "
        f"{wiki.practices_created} practice pages"
    )
    return lines
