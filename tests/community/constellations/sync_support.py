"""A store, settings and counted clients for constellation sync tests against the
session's real wiki and forum sandbox."""

from __future__ import annotations

from pathlib import Path

from bench.constellation_sync import MethodCounts
from community.partners.models import Partner
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.config import Settings, load_config
from core.migrate import upgrade
from core.store import Store
from tests.conftest import SessionForum, SessionWiki

# The partners charter_text names, registered as a partner page sync would store them
# (not linked to forum groups: the registry's own tests make real partner pages).
PARTNERS = {
    "harbour-food": "Harbour Food Bank",
    "north-pantry": "North Pantry",
    "city-kitchen": "City Kitchen",
}


def register_partners(store: Store) -> None:
    with store.session() as session:
        for group, name in PARTNERS.items():
            session.merge(Partner(group_name=group, name=name))


class SyncRig:
    def __init__(self, wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'constellate.db'}"
        upgrade(url)
        self.store = Store(url)
        register_partners(self.store)
        self.session_wiki = wiki
        self.session_forum = forum
        self.settings: Settings = load_config(
            environ={},
            overrides={
                "service": {"secret_key": "s" * 40},
                "store": {"url": url},
                "wiki": wiki.config(),
                "forum": {
                    "url": forum.url,
                    "api_key": forum.api_key,
                    "api_username": forum.api_username,
                },
                "worker": {"embedded": False},
            },
        )
        self.wiki = WikiClient(self.settings["wiki"])
        self.forum = ForumClient(self.settings["forum"])
        self.wiki_counts, self.forum_counts = MethodCounts(), MethodCounts()
        self.wiki.session.hooks["response"].append(self.wiki_counts.hook)
        self.forum.session.hooks["response"].append(self.forum_counts.hook)

    def writes(self) -> tuple[int, int]:
        """(wiki, forum) write requests so far."""
        return self.wiki_counts.writes(), self.forum_counts.writes()


def charter_text(category: str, *, status: str = "active", lead: str = "Harbour Food Bank") -> str:
    return (
        "{{Constellation\n"
        "| goal = Share one open data standard for food banks\n"
        f"| lead_partner = {lead}\n"
        "| partners = Harbour Food Bank, North Pantry, City Kitchen\n"
        "| stewards = Ana, Ben\n"
        f"| status = {status}\n"
        "| started = 2025-03-01\n"
        "| term_end = 2027-03-01\n"
        "| beat = fortnightly\n"
        f"| forum_category = {category}\n"
        "}}\n\nHuman text about the constellation.\n"
    )


def on_store(rig: SyncRig, store_url: str) -> SyncRig:
    """The rig moved to ``store_url`` (the ``store_url`` fixture: SQLite, then PostgreSQL)."""
    rig.store.dispose()
    upgrade(store_url)
    rig.store = Store(store_url)
    register_partners(rig.store)
    rig.settings["store"]["url"] = store_url
    return rig
