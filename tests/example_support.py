"""The seeded example partnership for end-to-end tests: a forum sandbox with it written
straight into its state (no API request), its wiki history imported into a wiki of the
test's own, a migrated store, a configuration file, and the partners, constellations and
practices synced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from community.constellations.sync import sync_constellations
from community.partners.registry import sync_partners
from community.practices.registry import sync_practices
from connectors.discourse import ForumClient
from core.config import Settings, load_config
from core.migrate import upgrade
from core.store import Store
from sandbox.example import EXAMPLE, write_credit_rules
from sandbox.example_state import seed_forum_state
from sandbox.forum.server import ForumServer
from sandbox.wiki_seed import seed_wiki
from tests.conftest import SessionWiki, toml


@dataclass
class SeededExample:
    settings: Settings
    store: Store
    forum: ForumClient
    config_path: Path


@contextmanager
def seeded_example(
    wiki: SessionWiki, directory: Path, now: datetime, **sections: dict[str, Any]
) -> Iterator[SeededExample]:
    """The example seeded as of ``now``; ``sections`` add to the configuration."""
    # The syncs below and the tests make their forum requests at once, about a hundred:
    # at Discourse's 60 a minute each test would wait out a minute, so this forum allows more.
    with ForumServer(rate_limit_per_minute=100_000) as server:
        forum_section = {
            "url": server.url,
            "api_key": server.api_key,
            "api_username": server.api_username,
        }
        assert server.forum is not None
        seed_forum_state(server.forum, now=now)
        seed_wiki(wiki.sandbox, now)
        url = f"sqlite:///{directory / 'constellate.db'}"
        upgrade(url)
        config: dict[str, dict[str, Any]] = {
            "service": {"secret_key": "s" * 40},
            "store": {"url": url},
            "wiki": wiki.config(),
            "forum": forum_section,
            "worker": {"embedded": False},
            "constellations": {"parent_category": EXAMPLE.parent_category},
            # The gauge bot excluded: not credited, not counted.
            "credits": {"rules_file": str(write_credit_rules(directory / "credit_rules.json"))},
            **sections,
        }
        config_path = directory / "constellate.toml"
        config_path.write_text(toml(config))
        settings = load_config(config_path, environ={})
        store = Store(url)
        sync_partners(store, settings, full=True)
        sync_constellations(store, settings, full=True)
        sync_practices(store, settings, full=True)
        try:
            yield SeededExample(settings, store, ForumClient(settings["forum"]), config_path)
        finally:
            store.dispose()
