"""Wiki → forum against the real wiki and the forum sandbox: create, update, no-op, rename,
status changes and dry runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from community.constellations.charter import parse_charter
from community.constellations.forum_mirror import ForumOutcome, forum_link, sync_to_forum
from community.constellations.forum_render import DORMANT_NOTICE
from community.constellations.models import PageTopicLink
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient, WikiPage
from core.migrate import upgrade
from core.store import Store
from tests.conftest import SessionForum, SessionWiki


def charter_text(**changes: str | None) -> str:
    fields: dict[str, str | None] = {
        "goal": "Share one open data standard for food banks",
        "lead_partner": "Harbour Food Bank",
        "partners": "Harbour Food Bank, North Pantry, City Kitchen",
        "stewards": "Ana, Ben",
        "status": "active",
        "started": "2025-03-01",
        "term_end": "2026-03-01",
        "beat": "fortnightly",
        "forum_category": None,  # named after the page unless a test sets it
    }
    fields.update(changes)
    body = "".join(f"| {name} = {value}\n" for name, value in fields.items() if value is not None)
    return "{{Constellation\n" + body + "}}\nWhat we do and why.\n"


class Harness:
    """One wiki bot, one forum client counting its writes, one store."""

    def __init__(self, wiki: SessionWiki, forum: SessionForum, store: Store, **options: Any):
        self.wiki = wiki
        self.bot: WikiClient = wiki.bot()
        self.forum_sandbox = forum
        self.forum = ForumClient(
            {"url": forum.url, "api_username": forum.api_username, "api_key": forum.api_key}
        )
        self.requests: Counter[str] = Counter()
        self.forum.session.hooks["response"].append(self._count)
        self.store = store
        self.parent = forum.name("Constellations ")
        self.settings: dict[str, Any] = {
            "wiki": wiki.config(),
            "constellations": {
                "parent_category": self.parent,
                "read_only_on_sunset": False,
                "recent_topics": 8,
                "participant_days": 90,
                **options,
            },
        }

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests[response.request.method or "GET"] += 1

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.requests.items() if method != "GET")

    def write_page(self, title: str, text: str) -> None:
        self.bot.edit(title, text, summary="constellation test", mode="any")

    def page(self, title: str) -> WikiPage:
        return self.bot.read_pages([title])[title]

    def sync(self, title: str, *, dry_run: bool = False) -> ForumOutcome:
        page = self.page(title)
        charter = parse_charter(page.title, page.text) if page.exists else None
        with self.store.session() as session:
            return sync_to_forum(
                session, self.forum, self.settings, page=page, charter=charter, dry_run=dry_run
            )

    def link(self, page_id: int) -> PageTopicLink:
        with self.store.session() as session:
            link = forum_link(session, page_id)
            assert link is not None
            session.expunge(link)
            return link

    def category(self, category_id: int) -> Any:
        return next(c for c in self.forum.categories() if c.id == category_id)

    def first_post(self, topic_id: int) -> str:
        return self.forum.get_topic(topic_id).posts[0].raw or ""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'constellate.db'}"
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


@pytest.fixture
def harness(wiki: SessionWiki, forum: SessionForum, store: Store) -> Harness:
    return Harness(wiki, forum, store)


def test_creates_the_category_and_charter_topic_once(harness: Harness) -> None:
    title = harness.wiki.title("WF Food data")
    harness.write_page(title, charter_text())

    outcome = harness.sync(title)

    assert outcome.action == "created"
    page = harness.page(title)
    assert page.pageid is not None
    link = harness.link(page.pageid)
    assert link.external_id == f"wiki-{page.pageid}"
    category = harness.category(link.forum_category_id or 0)
    parent = harness.category(category.parent_category_id or 0)
    assert (category.name, parent.name) == (title, harness.parent)
    topic = harness.forum.get_topic(link.forum_topic_id or 0)
    assert topic.category_id == category.id
    assert topic.tags == ("status-active",)
    assert topic.posts[0].id == link.forum_post_id
    post = topic.posts[0].raw or ""
    for line in (
        "**Goal:** Share one open data standard for food banks",
        "**Lead partner:** Harbour Food Bank",
        "**Partners:** Harbour Food Bank, North Pantry, City Kitchen",
        "**Stewards:** Ana, Ben",
        "**Status:** active",
        "**Beat:** fortnightly",
        "**Term:** 2025-03-01 to 2026-03-01",
    ):
        assert line in post.splitlines()
    assert f"{harness.wiki.url}/index.php?title={title.replace(' ', '_')}" in post
    assert harness.forum.topic_by_external_id(link.external_id) is not None


def test_an_unchanged_page_makes_no_forum_request(harness: Harness) -> None:
    title = harness.wiki.title("WF Quiet")
    harness.write_page(title, charter_text())
    assert harness.sync(title).action == "created"
    harness.requests.clear()

    assert harness.sync(title).action == "unchanged"
    # An edit outside the template changes nothing the forum shows.
    harness.write_page(title, charter_text() + "\nMore history.\n")
    assert harness.sync(title).action == "unchanged"

    assert sum(harness.requests.values()) == 0


def test_a_changed_page_updates_the_post_and_category(harness: Harness) -> None:
    title = harness.wiki.title("WF Changing")
    category_name = harness.forum_sandbox.name("food-")
    harness.write_page(title, charter_text(forum_category=category_name))
    harness.sync(title)
    page = harness.page(title)
    assert page.pageid is not None
    before = harness.link(page.pageid)

    harness.write_page(
        title,
        charter_text(forum_category=category_name, lead_partner="North Pantry", goal="A new goal"),
    )
    harness.requests.clear()
    outcome = harness.sync(title)

    assert outcome.action == "updated"
    assert harness.writes > 0
    after = harness.link(page.pageid)
    assert (after.forum_topic_id, after.forum_category_id) == (
        before.forum_topic_id,
        before.forum_category_id,
    )
    post = harness.first_post(after.forum_topic_id or 0)
    assert "**Lead partner:** North Pantry" in post.splitlines()
    assert "**Goal:** A new goal" in post.splitlines()
    assert after.synced_text == post
    assert harness.category(after.forum_category_id or 0).name == category_name
    assert harness.sync(title).action == "unchanged"


def test_a_page_move_renames_the_category_and_keeps_the_link(harness: Harness) -> None:
    title = harness.wiki.title("WF Before move")
    harness.write_page(title, charter_text())
    harness.sync(title)
    page = harness.page(title)
    assert page.pageid is not None
    before = harness.link(page.pageid)
    new_title = f"{title} renamed"
    admin = harness.wiki.sandbox.admin_username
    harness.wiki.sandbox.run_maintenance(
        "moveBatch.php", "--u", admin, stdin=f"{title}|{new_title}\n"
    )

    outcome = harness.sync(new_title)

    assert outcome.action == "renamed"
    after = harness.link(page.pageid)
    assert after.id == before.id and after.wiki_title == new_title
    assert after.forum_topic_id == before.forum_topic_id
    assert harness.category(after.forum_category_id or 0).name == new_title
    topic = harness.forum.get_topic(after.forum_topic_id or 0)
    assert new_title in topic.title
    assert new_title.replace(" ", "_") in (topic.posts[0].raw or "")
    # The redirect left at the old title carries no charter.
    assert harness.sync(title).action == "skipped"
    assert harness.sync(new_title).action == "unchanged"


def test_dormant_adds_a_notice_and_sunset_closes_the_topic(
    wiki: SessionWiki, forum: SessionForum, store: Store
) -> None:
    harness = Harness(wiki, forum, store, read_only_on_sunset=True)
    title = harness.wiki.title("WF Lifecycle")
    harness.write_page(title, charter_text())
    harness.sync(title)
    page = harness.page(title)
    assert page.pageid is not None
    topic_id = harness.link(page.pageid).forum_topic_id or 0

    harness.write_page(title, charter_text(status="dormant"))
    assert harness.sync(title).action == "updated"
    topic = harness.forum.get_topic(topic_id)
    assert (topic.posts[0].raw or "").startswith(DORMANT_NOTICE)
    assert topic.tags == ("status-dormant",)
    assert not topic.closed

    harness.write_page(title, charter_text(status="sunset"))
    assert harness.sync(title).action == "updated"
    topic = harness.forum.get_topic(topic_id)
    assert topic.closed and topic.tags == ("status-sunset",)
    assert not (topic.posts[0].raw or "").startswith(DORMANT_NOTICE)
    category_id = harness.link(page.pageid).forum_category_id or 0
    permissions = forum.forum.table("categories")[category_id]["permissions"]
    assert permissions == {"everyone": 3, "staff": 1}

    harness.write_page(title, charter_text(status="active"))
    assert harness.sync(title).action == "updated"
    assert not harness.forum.get_topic(topic_id).closed
    assert forum.forum.table("categories")[category_id]["permissions"]["everyone"] == 1


def test_dry_run_decides_and_writes_nothing(harness: Harness) -> None:
    title = harness.wiki.title("WF Dry run")
    harness.write_page(title, charter_text())

    assert harness.sync(title, dry_run=True).action == "created"
    assert harness.writes == 0
    page = harness.page(title)
    assert page.pageid is not None
    with harness.store.session() as session:
        assert forum_link(session, page.pageid) is None
    assert harness.forum.topic_by_external_id(f"wiki-{page.pageid}") is None

    harness.sync(title)
    harness.write_page(title, charter_text(goal="Another goal"))
    harness.requests.clear()
    assert harness.sync(title, dry_run=True).action == "updated"
    assert harness.writes == 0
    link = harness.link(page.pageid)
    assert "Another goal" not in harness.first_post(link.forum_topic_id or 0)
    assert harness.sync(title).action == "updated"
