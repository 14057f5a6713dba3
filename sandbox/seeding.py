"""Seed the example partnership into whatever forum and wiki the configuration names."""

from __future__ import annotations

from typing import Any

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from sandbox.example import seed_forum
from sandbox.wiki_seed import seed_wiki


def seed_configured(settings: dict[str, Any]) -> list[str]:
    """Write the example to the configured forum (if any) and wiki; say what was made."""
    lines = []
    if settings["forum"]["url"]:
        forum = seed_forum(ForumClient(settings["forum"]))
        lines.append(
            f"forum: {forum.groups_created} groups, {forum.users_created} people, "
            f"{forum.categories_created} categories, {forum.topics_created} topics, "
            f"{forum.posts_created} posts, {forum.likes} likes, {forum.solutions} solutions"
        )
    wiki = seed_wiki(WikiClient(settings["wiki"]))
    lines.append(
        f"wiki: {wiki.constellations_created} constellation pages, "
        f"{wiki.practices_created} practice pages"
    )
    return lines
