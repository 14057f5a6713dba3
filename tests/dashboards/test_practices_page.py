"""The Practices page and its API: the registry with adopters and discussing topics on a
real store (SQLite and PostgreSQL), the adoption picture, and suggestions promoted through
the inbox and the worker onto the real wiki (forum sandbox topics), or dismissed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

import dashboards.practices  # noqa: F401 (registers the routes before any app is made)
from community.handling import Handler
from community.practices import candidates
from community.practices.models import (
    Practice,
    PracticeAdoption,
    PracticeSuggestion,
    PracticeTopic,
)
from community.practices.page import parse_practice
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.event_kinds import PROMOTION_REQUESTED
from core.models import InboxEvent
from core.store import Store, get_store
from dashboards.openapi import response_schema
from service import dispatch
from service.dispatch import HANDLERS
from service.worker import Worker
from tests.community.test_practice_candidates import (
    Scene,
    active_discussion,
    affiliate,
    make_scene,
)
from tests.conftest import SessionForum, SessionWiki
from tests.dashboards.support import dashboard_app, login

FORUM_URL = "https://forum.example.org"
HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def handlers_for(kind: str) -> tuple[Handler, ...]:
    """The dispatch table with this page's kind (as service.dispatch wires it)."""
    if kind in HANDLERS:
        return tuple(HANDLERS[kind])
    return dispatch.handlers_for(kind)


class Site:
    """The service on one store with a logged-in moderator's browser."""

    def __init__(self, store_url: str, **sections: dict[str, Any]) -> None:
        sections.setdefault("forum", {"url": FORUM_URL})
        self.app: Flask = dashboard_app(store_url, csrf=False, clock=None, **sections)
        self.settings: Any = self.app.config["CONSTELLATE"]
        self.store: Store = get_store(self.app)
        self.client: FlaskClient = self.app.test_client()
        login(self.client, "mod_anna")

    def page(self, path: str = "/dashboard/practices") -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.status_code
        return answer.get_data(as_text=True)

    def post(self, path: str, **form: str) -> str:
        """POST a form; answers the page it redirects to (with its flash), unescaped."""
        answer = self.client.post(path, data=form)
        assert answer.status_code == 303, answer.status_code
        assert answer.location == "/dashboard/practices"
        return unescape(self.page(answer.location))

    def api(self, path: str) -> Any:
        answer = self.client.get(f"/api/v1{path}")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()

    def run_worker(self) -> None:
        worker = Worker(self.store, self.settings, sleep=lambda _s: None, handlers_for=handlers_for)
        while worker.run_once():
            pass

    def requests(self) -> list[InboxEvent]:
        with self.store.session() as session:
            query = select(InboxEvent).where(InboxEvent.kind == PROMOTION_REQUESTED)
            return list(session.scalars(query.order_by(InboxEvent.id)))

    def suggestion(self, suggestion_id: int) -> PracticeSuggestion:
        with self.store.session() as session:
            return session.get_one(PracticeSuggestion, suggestion_id)

    def add_suggestion(self, key: str, title: str, **values: Any) -> int:
        with self.store.session() as session:
            row = PracticeSuggestion(
                key=key,
                kind=values.pop("kind", "candidate"),
                title=title,
                score=values.pop("score", 3.0),
                reasons=values.pop("reasons", ["keywords: 'how we'"]),
                **values,
            )
            session.add(row)
            session.flush()
            return row.id


@pytest.fixture
def site(store_url: str) -> Site:
    return Site(store_url)


def add_practice(
    store: Store,
    page_id: int,
    title: str,
    *,
    origin: str,
    adopters: tuple[str, ...] = (),
    topics: int = 0,
    summary: str = "What we do, in short.",
) -> None:
    """A practice as the registry stores it after syncing its page; topic n was found n
    hours after T0, so the last ones are the latest."""
    with store.session() as session:
        session.add(
            Practice(
                page_id=page_id,
                title=title,
                tag=f"p{page_id}",
                summary=summary,
                originating_organisation=origin,
                revid=page_id * 10,
            )
        )
        for name in adopters:
            session.add(
                PracticeAdoption(
                    page_id=page_id, organisation=name, source="template", adopted_at=T0
                )
            )
        for n in range(topics):
            session.add(
                PracticeTopic(
                    page_id=page_id,
                    topic_id=page_id * 100 + n,
                    title=f"{title}: topic {n}",
                    slug=f"topic-{n}",
                    matched_by="tag",
                    found_at=T0 + timedelta(hours=n),
                )
            )


def validate(data: Any, path: str) -> None:
    Draft202012Validator(response_schema(path), format_checker=FormatChecker()).validate(data)


def cells(html: str) -> list[str]:
    """The adoption picture's filled squares, by their titles."""
    return sorted(
        unescape(t) for t in re.findall(r'<rect class="adopted"[^>]*>\s*<title>(.*?)</title>', html)
    )


# -- the registry --------------------------------------------------------------------------------


def test_the_registry_shows_adopters_topics_and_the_adoption_picture(site: Site) -> None:
    add_practice(
        site.store, 1, "Community fridges", origin="North Pantry",
        adopters=("Harbour Food Bank", "City Kitchen"), topics=5,
    )  # fmt: skip
    add_practice(site.store, 2, "Repair evenings", origin="City Kitchen", topics=0)
    add_practice(site.store, 3, "Gone practice", origin="North Pantry", adopters=("City Kitchen",))
    with site.store.session() as session:
        session.get_one(Practice, 3).deleted_at = T0
        session.add(
            PracticeAdoption(
                page_id=2, organisation="North Pantry", source="template", adopted_at=T0,
                withdrawn_at=T0 + timedelta(days=1),
            )
        )  # fmt: skip
        removed = session.scalars(select(PracticeTopic).where(PracticeTopic.topic_id == 104)).one()
        removed.removed_at = T0 + timedelta(days=2)

    html = site.page()

    assert "Gone practice" not in html
    assert cells(html) == [
        "Community fridges: adopted by City Kitchen",
        "Community fridges: adopted by Harbour Food Bank",
    ]
    # Columns: every adopter and originating organisation on the page.
    columns = re.findall(r'<g class="column">\s*<title>(.*?)</title>', html)
    assert columns == ["City Kitchen", "Harbour Food Bank", "North Pantry"]
    wiki = site.settings["wiki"]["url"]
    assert f'href="{wiki}/index.php?curid=1"' in html
    # The latest three of the four current topics, then how many more.
    assert re.findall(r"Community fridges: topic (\d)", html) == ["3", "2", "1"]
    assert f'href="{FORUM_URL}/t/topic-3/103"' in html
    assert "and 1 more" in html
    assert 'Registry <span class="badge">2</span>' in html

    data = site.api("/practices")
    validate(data, "/practices")
    assert data["total"] == 2 and data["next_page"] is None
    first, second = data["practices"]
    assert (first["title"], first["adopted_by"], first["topic_count"]) == (
        "Community fridges",
        ["City Kitchen", "Harbour Food Bank"],
        4,
    )
    assert [t["topic_id"] for t in first["latest_topics"]] == [103, 102, 101]
    assert (second["title"], second["adopted_by"], second["topic_count"]) == (
        "Repair evenings",
        [],
        0,
    )
    assert second["url"] == f"{wiki}/index.php?curid=2"


def test_the_registry_is_paged_by_title(site: Site) -> None:
    for n in range(52):
        add_practice(site.store, 100 + n, f"Practice {n:02d}", origin="North Pantry")

    first, second = site.api("/practices"), site.api("/practices?page=2")

    assert first["next_page"] == 2 and len(first["practices"]) == 50
    assert [p["title"] for p in second["practices"]] == ["Practice 50", "Practice 51"]
    assert second["total"] == 52 and second["next_page"] is None
    html = site.page("/dashboard/practices?page=2")
    assert re.findall(r'<tr id="practice-(\d+)">', html) == ["150", "151"]


# -- suggestions: promotion through the worker ------------------------------------------------


@pytest.fixture(scope="module")
def scene(forum: SessionForum) -> Scene:
    return make_scene(forum)


@pytest.fixture
def live_site(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Site:
    """The service on SQLite, talking to the session's real wiki and forum sandbox."""
    forum_section = {"url": forum.url, "api_key": forum.api_key, "api_username": forum.api_username}
    return Site(f"sqlite:///{tmp_path / 'store.db'}", wiki=wiki.config(), forum=forum_section)


def suggested_topic(site: Site, forum: SessionForum, scene: Scene, title: str) -> int:
    """A forum topic the real candidate rules suggest; returns its suggestion id."""
    topic_id = active_discussion(forum, scene, title)
    affiliate(site.store, scene)  # as the people refresh learns it from the forum's groups
    with site.store.session() as session:
        found = candidates.suggest_candidates(
            session, ForumClient(site.settings["forum"]), site.settings, [topic_id]
        )
        assert [s.topic_id for s in found] == [topic_id]
        return found[0].id


def test_promote_is_queued_once_and_the_worker_writes_the_practice_page(
    live_site: Site, forum: SessionForum, wiki: SessionWiki, scene: Scene
) -> None:
    site = live_site
    suggestion = suggested_topic(site, forum, scene, "How we run a seed library")
    title = wiki.title("Seed libraries")
    before = site.page()
    assert f'action="/dashboard/practices/suggestions/{suggestion}/promote"' in before

    shown = site.post(
        f"/dashboard/practices/suggestions/{suggestion}/promote",
        title=title,
        organisation=f"  {scene.org_b} ",
    )

    assert "queued; a worker writes the practice page shortly." in shown
    assert "promotion queued" in shown
    assert f"/suggestions/{suggestion}/promote" not in shown
    [request] = site.requests()
    assert (request.state, request.subject) == ("pending", f"practice_suggestion:{suggestion}")
    assert request.payload["title"] == title and request.payload["organisation"] == scene.org_b
    assert request.payload["requested_by"] == "mod_anna"
    again = site.post(f"/dashboard/practices/suggestions/{suggestion}/promote")
    assert f"Not promoted: suggestion {suggestion}: a promotion of it is already queued." in again
    refused = site.post(f"/dashboard/practices/suggestions/{suggestion}/dismiss")
    assert f"Not dismissed: suggestion {suggestion} is being promoted." in refused
    assert len(site.requests()) == 1

    site.run_worker()

    assert [r.state for r in site.requests()] == ["done"]
    page = WikiClient(site.settings["wiki"]).read_pages([title])[title]
    parsed = parse_practice(title, page.text)
    assert parsed is not None and parsed.originating_organisation == scene.org_b
    done = site.suggestion(suggestion)
    assert (done.state, done.page_title, done.decided_by, done.detail) == (
        "promoted",
        title,
        "mod_anna",
        None,
    )
    after = unescape(site.page())
    assert f'<tr id="practice-{page.pageid}">' in after and title in after
    assert f'id="suggestion-{suggestion}"' not in after
    assert title in [p["title"] for p in site.api("/practices")["practices"]]


def test_a_refused_promotion_is_shown_and_can_be_asked_again(
    live_site: Site, forum: SessionForum, wiki: SessionWiki, scene: Scene
) -> None:
    site = live_site
    suggestion = suggested_topic(site, forum, scene, "What worked for our tool library")
    taken = wiki.title("Somebody's page")
    wiki.human().edit(taken, "A page people wrote.", summary="test", mode="create")

    site.post(f"/dashboard/practices/suggestions/{suggestion}/promote", title=taken)
    site.run_worker()

    # Refused for good: recorded on the suggestion, not retried.
    assert [r.state for r in site.requests()] == ["done"]
    why = f"Promotion refused: title {taken!r}: a page with this title exists already"
    assert (site.suggestion(suggestion).detail or "").startswith(why)
    assert why in unescape(site.page())
    assert WikiClient(site.settings["wiki"]).read_pages([taken])[taken].text == (
        "A page people wrote."
    )

    fresh = wiki.title("Tool libraries")
    shown = site.post(f"/dashboard/practices/suggestions/{suggestion}/promote", title=fresh)
    assert why not in shown and site.suggestion(suggestion).detail is None
    site.run_worker()
    assert site.suggestion(suggestion).state == "promoted"


def test_a_request_for_a_suggestion_decided_meanwhile_does_nothing(site: Site) -> None:
    suggestion = site.add_suggestion("topic:9001", "How we share vans", topic_id=9001)
    site.post(f"/dashboard/practices/suggestions/{suggestion}/promote")
    with site.store.session() as session:  # dismissed by the command before the worker ran
        candidates.dismiss(session, suggestion, moderator="mod_ben")

    # The forum and wiki in the settings do not answer: a read would fail the event.
    site.run_worker()

    assert [(r.state, r.last_error) for r in site.requests()] == [("done", None)]
    assert site.suggestion(suggestion).state == "dismissed"


# -- suggestions: dismissing and refusals ---------------------------------------------------------


def test_dismiss_closes_a_suggestion_once(site: Site) -> None:
    suggestion = site.add_suggestion("topic:77", "Checklist for pop-up kitchens", topic_id=77)

    shown = site.post(f"/dashboard/practices/suggestions/{suggestion}/dismiss")

    assert "Dismissed 'Checklist for pop-up kitchens'; it will not be suggested again." in shown
    row = site.suggestion(suggestion)
    assert (row.state, row.decided_by) == ("dismissed", "mod_anna")
    again = site.post(f"/dashboard/practices/suggestions/{suggestion}/dismiss")
    assert f"Not dismissed: suggestion {suggestion}: already dismissed." in again
    promoted = site.post(f"/dashboard/practices/suggestions/{suggestion}/promote")
    assert f"Not promoted: suggestion {suggestion}: it was already dismissed." in promoted
    assert site.requests() == []
    assert "No suggestions wait for a decision." in promoted


def test_a_stub_can_be_dismissed_but_not_promoted(site: Site) -> None:
    stub = site.add_suggestion("tag:seed-swap", "seed-swap", kind="stub", tag="seed-swap")

    html = site.page()

    assert f'action="/dashboard/practices/suggestions/{stub}/dismiss"' in html
    assert f'action="/dashboard/practices/suggestions/{stub}/promote"' not in html
    assert f'href="{FORUM_URL}/tag/seed-swap"' in html
    refused = site.post(f"/dashboard/practices/suggestions/{stub}/promote")
    assert "it names a forum tag, not a topic; create the practice page on the wiki" in refused
    assert site.requests() == []


def test_promote_refuses_a_title_the_wiki_cannot_have(site: Site) -> None:
    suggestion = site.add_suggestion("topic:78", "Rota for cleaning", topic_id=78)

    refused = site.post(
        f"/dashboard/practices/suggestions/{suggestion}/promote", title="Rota [draft]"
    )

    assert "a wiki title may not contain [ ]" in refused
    two = site.post(
        f"/dashboard/practices/suggestions/{suggestion}/promote", organisation="One, Two"
    )
    assert "name one organisation (no commas" in two
    assert site.requests() == []
    assert site.suggestion(suggestion).state == "open"


def test_without_a_forum_nothing_can_be_promoted(store_url: str) -> None:
    site = Site(store_url, forum={"url": ""})
    suggestion = site.add_suggestion("topic:79", "Shared calendars", topic_id=79)

    html = site.page()

    assert f"/suggestions/{suggestion}/promote" not in html
    assert "No forum is configured" in html
    refused = site.post(f"/dashboard/practices/suggestions/{suggestion}/promote")
    assert "no forum is configured to read the topic from" in refused
    assert site.requests() == []


def test_markup_in_titles_and_names_is_shown_as_text(site: Site) -> None:
    add_practice(
        site.store, 5, f"Fridge {HOSTILE}", origin=f"Org {HOSTILE}",
        adopters=(f"Adopter {HOSTILE}",), topics=1, summary=f"Summary {HOSTILE}",
    )  # fmt: skip
    site.add_suggestion(
        "topic:80", f"Topic {HOSTILE}", topic_id=80, reasons=[f"keywords: {HOSTILE}"]
    )

    html = site.page()

    assert "<script>" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6


def test_unknown_suggestions_are_404(site: Site) -> None:
    for action in ("promote", "dismiss"):
        answer = site.client.post(f"/dashboard/practices/suggestions/999999/{action}")
        assert answer.status_code == 404
    assert site.requests() == []
