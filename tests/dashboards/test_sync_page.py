"""The Sync page against a real wiki and the forum sandbox: a real conflict shown and
resolved both ways through the route and the worker, and a resync queued once and run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import select

from community.constellations.charter import parse_charter
from community.constellations.forum_render import render
from community.constellations.leadership import with_lead_since
from community.constellations.requests import (
    apply_resolution,
    resolution_event,
)
from community.constellations.sync_runs import SyncRun
from community.handling import HandlerContext
from core.event_kinds import CONFLICT_RESOLVED as RESOLVE_KIND
from core.event_kinds import RESYNC_REQUESTED as RESYNC_KIND
from sandbox.forum.server import ForumServer
from tests.community.constellations.sync_support import charter_text
from tests.conftest import UNTHROTTLED, SessionForum, SessionWiki, served_wiki
from tests.dashboards.sync_site import Site, resolve_path

GOAL = "**Goal:** Share one open data standard for food banks"
HUMAN_GOAL = "**Goal:** Feed everyone"
WIKI_GOAL = "**Goal:** Publish the standard"


@pytest.fixture(scope="module")
def sync_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    """A wiki of its own: a full resync reads every constellation page, only ours here."""
    yield from served_wiki(tmp_path_factory.mktemp("sync-page-wiki"))


@pytest.fixture(scope="module")
def sync_forum() -> Iterator[SessionForum]:
    """A forum of its own too: topics are found by the wiki page id, which restarts with
    every wiki, so the shared forum would hold another wiki's page of the same id."""
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        yield SessionForum(server)


@pytest.fixture
def site(sync_wiki: SessionWiki, sync_forum: SessionForum, sqlite_url: str) -> Iterator[Site]:
    made = Site(sqlite_url, sync_wiki, sync_forum)
    yield made
    made.store.dispose()


def make_conflict(site: Site) -> tuple[str, int, str]:
    """A constellation whose charter post a person edited on the forum while the wiki
    changed the same line: (title, the open issue's id, the forum's text)."""
    assert site.wiki is not None and site.forum_sandbox is not None
    title = site.wiki.title("Sync page")
    site.write_page(title, charter_text(site.forum_sandbox.name("cat-")))
    assert site.sync(title).created == 1
    link = site.link(title)
    site.edit_on_forum(link.forum_post_id or 0, GOAL, HUMAN_GOAL)
    site.edit_page(
        title,
        "| goal = Share one open data standard for food banks",
        "| goal = Publish the standard",
    )
    assert site.sync(title).conflicts >= 1
    forum_text = site.post_text(title)
    assert HUMAN_GOAL in forum_text.splitlines()
    issues = [i for i in site.open_issues(title) if i.kind == "conflict"]
    assert [(i.field, i.forum_post_id) for i in issues] == [("charter_post", link.forum_post_id)]
    return title, issues[0].id, forum_text


# -- conflicts ------------------------------------------------------------------------------


def test_keep_forum_makes_the_forum_text_the_base(site: Site) -> None:
    title, issue_id, forum_text = make_conflict(site)
    html = site.page()
    assert title in unescape(html)
    assert f'action="{resolve_path(issue_id)}"' in html
    assert 'name="choice" value="keep_forum"' in html and 'name="choice" value="use_wiki"' in html

    site.post(resolve_path(issue_id), choice="keep_forum")
    [event] = site.events(RESOLVE_KIND)
    assert event.state == "pending"
    assert event.payload == {
        "issue_id": issue_id,
        "choice": "keep_forum",
        "requested_by": "moderator",
    }
    flashes = site.flashes()
    assert flashes[0][0] == "ok" and title in flashes[0][1]
    assert "queued: keep the forum&#39;s text" in site.page()
    # A second choice while the first waits is refused.
    site.post(resolve_path(issue_id), choice="use_wiki")
    assert site.flashes() == [
        ("error", f"Not resolved: a choice for issue {issue_id} is already queued.")
    ]
    assert len(site.events(RESOLVE_KIND)) == 1
    assert site.issue(issue_id).resolved_at is None  # nothing happens before the worker

    site.run_worker()

    assert [e.state for e in site.events(RESOLVE_KIND)] == ["done"]
    assert site.issue(issue_id).resolved_at is not None
    assert site.post_text(title) == forum_text  # the person's words kept
    link = site.link(title)
    assert (link.synced_text or "").strip() == forum_text.strip()
    assert site.wiki is not None
    wiki_now = parse_charter(title, site.wiki.bot().read_pages([title])[title].text)
    assert wiki_now is not None
    with site.store.session() as session:  # the charter shows since when its lead leads
        wiki_now = with_lead_since(session, wiki_now, link.wiki_page_id)
    assert link.rendered_text == render(site.settings, wiki_now).post
    assert f'action="{resolve_path(issue_id)}"' not in site.page()

    # The next sync leaves the forum's text alone; a later wiki change merges into it.
    assert site.sync(title).unchanged == 1
    assert site.post_text(title) == forum_text
    site.edit_page(title, "| beat = fortnightly", "| beat = weekly")
    assert site.sync(title).updated == 1  # merged into the kept text, as after any merge
    lines = site.post_text(title).splitlines()
    assert HUMAN_GOAL in lines and "**Beat:** weekly" in lines
    assert not site.open_issues(title)

    # Resolving it again is refused, and queues nothing.
    site.post(resolve_path(issue_id), choice="keep_forum")
    assert site.flashes() == [("error", f"Not resolved: issue {issue_id} is already resolved.")]
    assert len(site.events(RESOLVE_KIND)) == 1


def test_use_wiki_overwrites_the_forum_post(site: Site) -> None:
    title, issue_id, forum_text = make_conflict(site)

    site.post(resolve_path(issue_id), choice="use_wiki")
    [event] = site.events(RESOLVE_KIND)
    assert event.payload["choice"] == "use_wiki"
    site.run_worker()

    assert [e.state for e in site.events(RESOLVE_KIND)] == ["done"]
    assert site.issue(issue_id).resolved_at is not None
    post = site.post_text(title)
    lines = post.splitlines()
    assert WIKI_GOAL in lines and HUMAN_GOAL not in lines
    assert post != forum_text
    link = site.link(title)
    assert (link.synced_text or "").strip() == post.strip()
    assert site.sync(title).unchanged == 1  # settled: nothing left to write
    assert site.post_text(title) == post


def test_a_resolution_applied_twice_has_the_effect_of_once(site: Site) -> None:
    title, issue_id, _forum_text = make_conflict(site)
    event = resolution_event(issue_id, "use_wiki", "moderator", now=datetime.now(UTC))
    with site.store.session() as session:
        apply_resolution(event, HandlerContext(session, site.settings))
    post = site.post_text(title)
    assert WIKI_GOAL in post.splitlines()
    # The person edits again; a replay of the same choice must not overwrite that.
    site.edit_on_forum(
        site.link(title).forum_post_id or 0, "**Stewards:** Ana, Ben", "**Stewards:** Ana"
    )
    edited = site.post_text(title)
    with site.store.session() as session:
        apply_resolution(event, HandlerContext(session, site.settings))
    assert site.post_text(title) == edited


# -- resync ---------------------------------------------------------------------------------


def test_resync_queues_one_event_and_its_handler_reconciles(site: Site) -> None:
    assert site.wiki is not None and site.forum_sandbox is not None
    title = site.wiki.title("Sync resync")
    site.write_page(title, charter_text(site.forum_sandbox.name("cat-")))
    assert site.sync(title).created == 1
    site.edit_page(title, "| beat = fortnightly", "| beat = weekly")  # not synced yet

    site.post("/dashboard/sync/resync", title=f"  {title} ")
    [event] = site.events(RESYNC_KIND)
    assert event.payload == {"title": title, "requested_by": "moderator"}
    assert event.actor is None and event.state == "pending"
    assert site.flashes()[0][0] == "ok"
    site.post("/dashboard/sync/resync", title=title)  # a double click
    assert site.flashes() == [("error", f"A resync of the page “{title}” is already queued.")]
    assert len(site.events(RESYNC_KIND)) == 1

    site.run_worker()

    assert [e.state for e in site.events(RESYNC_KIND)] == ["done"]
    assert "**Beat:** weekly" in site.post_text(title).splitlines()
    with site.store.session() as session:
        runs = list(session.scalars(select(SyncRun).order_by(SyncRun.id)))
    last = runs[-1]
    assert (last.trigger, last.scope, last.requested_by) == ("dashboard", title, "moderator")
    assert (last.pages_seen, last.pages_changed, last.error) == (1, 1, None)
    assert last.counts["updated"] == 1 and last.finished_at is not None
    html = site.page()
    assert f'<td class="scope">{title}</td>' in unescape(html)


def test_an_empty_title_resyncs_every_page(site: Site) -> None:
    assert site.wiki is not None and site.forum_sandbox is not None
    title = site.wiki.title("Sync full")
    site.write_page(title, charter_text(site.forum_sandbox.name("cat-")))
    assert site.sync(title).created == 1
    site.edit_page(title, "| beat = fortnightly", "| beat = monthly")

    site.post("/dashboard/sync/resync", title="")
    site.post("/dashboard/sync/resync", title="   ")
    assert site.flashes() == [
        ("ok", "Resync of every constellation page queued; a worker runs it shortly."),
        ("error", "A resync of every constellation page is already queued."),
    ]
    [event] = site.events(RESYNC_KIND)
    assert event.payload == {"title": None, "requested_by": "moderator"}
    site.run_worker()

    assert "**Beat:** monthly" in site.post_text(title).splitlines()
    with site.store.session() as session:
        last = session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert last is not None
    assert (last.trigger, last.scope, last.error) == ("dashboard", "full", None)
    assert last.pages_seen >= 1 and last.pages_changed >= 1


def test_a_page_naming_an_unknown_partner_is_on_the_sync_page_and_its_own(site: Site) -> None:
    assert site.wiki is not None and site.forum_sandbox is not None
    title = site.wiki.title("Unknown partner")
    text = charter_text(site.forum_sandbox.name("cat-")).replace("City Kitchen", "Nowhere Co-op")
    site.write_page(title, text)
    assert site.sync(title).created == 1
    [issue] = [i for i in site.open_issues(title) if i.kind == "unknown_partner"]

    html = unescape(site.page())
    errors = html[html.index('<h2 id="errors">') :]
    assert title in errors and "unknown_partner" in errors
    assert "'Nowhere Co-op' is not a registered partner" in errors and "field: partners" in errors
    page_id = site.link(title).wiki_page_id
    assert "'Nowhere Co-op' is not a registered partner" in unescape(
        site.page(f"/dashboard/constellations/{page_id}")
    )
    assert issue.resolved_at is None
