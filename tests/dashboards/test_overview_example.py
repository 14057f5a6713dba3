"""The Overview and Constellation pages end to end: the example partnership seeded on the
real wiki and the forum sandbox, synced, its forum history read and its health computed,
then shown by the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import select

import dashboards.overview
import dashboards.overview_api
import dashboards.sync_status
from community.activity import record_history
from community.constellations.models import PageTopicLink
from community.credits.people import refresh_forum_people
from community.health.runs import recompute_everything
from community.partners.affiliation import refresh_affiliations
from core.config import Settings
from sandbox.example import EXAMPLE
from sandbox.example_conversations import PlannedTopic, plan_conversations
from sandbox.example_data import organisation_name
from tests.conftest import SessionWiki, served_wiki
from tests.dashboards.html_page import Page, get_page, validate
from tests.dashboards.support import dashboard_app, login
from tests.example_support import seeded_example

# Importing the route modules registers them, before any app registers the blueprints.
assert dashboards.overview and dashboards.overview_api and dashboards.sync_status


@dataclass
class Example:
    client: FlaskClient
    now: datetime
    plan: list[PlannedTopic]
    settings: Settings
    categories: dict[str, int]  # constellation -> forum category id


@pytest.fixture(scope="module")
def example_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    """A wiki of its own: the example's pages must not exist before the seed makes them."""
    yield from served_wiki(tmp_path_factory.mktemp("overview-wiki"))


@pytest.fixture(scope="module")
def example(
    example_wiki: SessionWiki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    """The example seeded, its forum history read, its health computed as of ``now``
    (the seed's own clock: its conversations are placed relative to it), and the
    dashboard on the resulting store."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    directory = tmp_path_factory.mktemp("overview-example")
    with seeded_example(example_wiki, directory, now) as seeded:
        with seeded.store.session() as session:
            refresh_forum_people(session, seeded.forum)
            refresh_affiliations(session, seeded.forum)
            record_history(session, seeded.forum)
        with seeded.store.session() as session:
            recompute_everything(session, seeded.settings, now=now)
        settings = seeded.settings
        app = dashboard_app(
            settings["store"]["url"],
            wiki=dict(settings["wiki"]),
            forum=dict(settings["forum"]),
            credits=dict(settings["credits"]),
        )
        client = app.test_client()
        login(client)
        with seeded.store.session() as session:
            categories = {
                link.wiki_title: link.forum_category_id
                for link in session.scalars(select(PageTopicLink))
                if link.forum_category_id is not None
            }
        yield Example(client, now, plan_conversations(EXAMPLE, now), settings, categories)


def planned_posts(example: Example, constellation: str, days: int) -> list[tuple[str, str]]:
    """(author, topic id) of the counted posts the plan put in the constellation in the
    ``days`` before ``now``: the bots' are not counted."""
    start = example.now - timedelta(days=days)
    bots = set(EXAMPLE.bot_usernames())
    posts = []
    for topic in example.plan:
        if topic.constellation != constellation:
            continue
        for author, at in [(topic.author, topic.created_at)] + [
            (reply.author, reply.created_at) for reply in topic.replies
        ]:
            if author not in bots and start <= at < example.now:
                posts.append((author, topic.external_id))
    return posts


def test_the_example_partnership_on_the_overview(example: Example) -> None:
    listing = example.client.get("/api/v1/constellations").get_json()
    validate(listing, "/constellations")
    shown = {row["title"]: row for row in listing["constellations"]}
    assert set(shown) == {c.name for c in EXAMPLE.constellations}
    for constellation in EXAMPLE.constellations:
        row = shown[constellation.name]
        assert row["lead_partner"] == organisation_name(constellation.lead_partner)
        assert row["status"] == constellation.status
        posts = planned_posts(example, constellation.name, 30)
        assert row["health"]["posts"] == len(posts), constellation.name
        assert row["health"]["participants"] == len({a for a, _ in posts}), constellation.name
    page = get_page(example.client, "/dashboard/")
    rows = {row[0]: row for row in page.body("constellations")}
    for constellation in EXAMPLE.constellations:
        health = shown[constellation.name]["health"]
        assert rows[constellation.name][2] == organisation_name(constellation.lead_partner)
        assert rows[constellation.name][6].startswith(f"{health['participants']} · 30 d")
    # The deliberately starved constellation has gone quiet.
    alerts = example.client.get("/api/v1/alerts").get_json()
    assert ("Cool Spaces", "quiet") in [(a["label"], a["rule"]) for a in alerts["alerts"]]
    quiet = [row for row in page.body("alerts") if row[1] == "Cool Spaces"]
    assert [row[2].split()[0] for row in quiet].count("quiet") == 1


def test_an_example_constellation_page_from_the_wiki_history_and_the_forum(
    example: Example,
) -> None:
    constellation = next(c for c in EXAMPLE.constellations if len(c.terms) > 2)
    page_id = next(
        row["page_id"]
        for row in example.client.get("/api/v1/constellations").get_json()["constellations"]
        if row["title"] == constellation.name
    )
    response = example.client.get(f"/dashboard/constellations/{page_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = Page(html)
    # The page's history hands the lead from term to term; newest first.
    leads = [organisation_name(term.lead_partner) for term in constellation.terms]
    shown = [row[1] for row in page.body("leadership")]
    handed = [f"{lead} (was {before})" for before, lead in pairwise(leads)]
    assert shown == [*reversed(handed), leads[0]]
    timeline = next(d for d in page.descriptions() if d.startswith("Lead partners of"))
    assert all(f"{lead}: " in timeline for lead in leads)
    assert timeline.endswith("to now.")
    # Participants by organisation, counted from the plan over the 30 days before now.
    by_organisation: dict[str, tuple[set[str], int]] = {}
    organisation_of = {person.username: person.organisation for person in EXAMPLE.people}
    for author, _ in planned_posts(example, constellation.name, 30):
        name = organisation_name(organisation_of[author])
        people, posts = by_organisation.get(name, (set(), 0))
        by_organisation[name] = (people | {author}, posts + 1)
    assert sorted(page.body("participants")) == sorted(
        [name, str(len(people)), str(posts)] for name, (people, posts) in by_organisation.items()
    )
    # Both sides linked; the charter post as the sync wrote it, shown as text.
    forum = example.settings["forum"]["url"]
    category = example.categories[constellation.name]
    assert (f"{forum}/c/{category}", "forum category") in page.links
    detail = example.client.get(f"/api/v1/constellations/{page_id}").get_json()
    validate(detail, "/constellations/{page_id}")
    assert detail["charter"]["goal"] == constellation.goal
    assert "**Goal:**" in detail["sync"]["forum_text"]
    # The seed's full reconcile is the page's last sync run, and it went well.
    assert detail["sync"]["last_run"]["error"] is None
    assert str(escape(detail["sync"]["forum_text"])) in html
