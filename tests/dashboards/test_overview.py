"""The Overview and Constellation pages and their JSON, on a store filled by the domain's
own functions and the real health run, on SQLite and PostgreSQL (the seeded example,
end to end, is in test_overview_example.py)."""

from __future__ import annotations

import re

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select

import dashboards.overview
import dashboards.overview_api
import dashboards.sync_status
from community.health.models import HealthAlert
from core.store import get_store
from tests.dashboards.html_page import Page, get_page, validate
from tests.dashboards.overview_support import (
    COOL,
    FLOOD,
    FORUM_TEXT,
    HOSTILE_GOAL,
    RIVERLANDS,
    add_constellation,
    build,
)
from tests.dashboards.support import dashboard_app, login

FORUM_URL = "https://forum.example.org"
# The participants cell: people in the summary window, its length and its last day.
MEASURED_0, MEASURED_3 = ["0 · 30 d to 2026-03-02"], ["3 · 30 d to 2026-03-02"]
# Importing the route modules registers them, before any app registers the blueprints.
# (The sync page's module holds the route the resolve buttons post to.)
assert dashboards.overview and dashboards.overview_api and dashboards.sync_status


# -- a store filled by the domain --------------------------------------------------------------


@pytest.fixture
def app(store_url: str) -> Flask:
    made = dashboard_app(store_url, forum={"url": FORUM_URL, "api_username": "system"})
    build(get_store(made), made.config["CONSTELLATE"])
    return made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    made = app.test_client()
    login(made)
    return made


def open_alerts_in_store(app: Flask) -> list[tuple[str, str]]:
    with get_store(app).session() as session:
        rows = session.execute(
            select(HealthAlert.label, HealthAlert.rule)
            .where(HealthAlert.state == "open")
            .order_by(HealthAlert.raised_at.desc(), HealthAlert.id.desc())
        )
        return [(label, rule) for label, rule in rows]


def test_the_overview_shows_each_constellation_with_its_health_pulse_and_alerts(
    app: Flask, client: FlaskClient
) -> None:
    page = get_page(client, "/dashboard/")
    # Figures of the 30 days to NOW, worked out in overview_support's docstring.
    assert page.body("constellations") == [
        # (no topics: no median, nothing to divide; "–" rather than a made-up 0)
        [*("Cool Spaces", "active", "City Lab", "–", "–", "–"), *MEASURED_0, "", "1 open"],
        [
            *("Flood Wardens", "active", RIVERLANDS, "2.0 h", "33%", "50%"),
            *MEASURED_3,
            "",
            "1 open",
        ],
    ]
    assert ("/dashboard/constellations/101", "Flood Wardens") in page.links
    assert ("/dashboard/constellations/102", "Cool Spaces") in page.links
    # Posts per week over the 90-day window: erin's topic 40 days ago, then topic 1 (three
    # posts, 10 days ago) and topics 2 and 3 (three counted posts in the last week).
    assert page.descriptions() == [
        "Pulse of Cool Spaces: posts per month, last 6 months: 0, 0, 0, 0, 0, 0",
        "Pulse of Flood Wardens: posts per week, last 12 weeks: 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 3",
    ]
    # The open alerts, newest first, as the health run left them; Cool Spaces has gone quiet.
    expected = open_alerts_in_store(app)
    assert ("Cool Spaces", "quiet") in expected
    rows = page.body("alerts")
    assert [(row[1], row[2].split()[0]) for row in rows] == expected
    quiet = next(row for row in rows if row[1] == "Cool Spaces")
    assert quiet[0] == "2026-02-28 12:00 UTC"  # raised by the first run, two days before NOW
    assert "has gone quiet" in quiet[2]
    assert quiet[3] == "the number of posts in the last beat over 90 days: 0 (threshold 0)"


def test_the_constellation_page_shows_figures_over_time_leadership_and_participants(
    client: FlaskClient,
) -> None:
    page = get_page(client, f"/dashboard/constellations/{FLOOD}")
    descriptions = page.descriptions()
    over = "each day over the 30 days before"
    assert descriptions[:4] == [
        # With carol's unanswered topic counted (censored at its age): S(2) = 2/3,
        # S(5) = 1/3, so the median is 5 h and the 90th percentile is not reached.
        f"Time to first response of Flood Wardens, {over} (hours). "
        "median, waiting topics counted: 2026-02-28 5, 2026-03-01 5, 2026-03-02 5; "
        "90th pct, waiting topics counted: 2026-02-28 no data, 2026-03-01 no data, "
        "2026-03-02 no data; "
        "median of answered topics: 2026-02-28 2, 2026-03-01 2, 2026-03-02 2; "
        "90th pct of answered topics: 2026-02-28 5, 2026-03-01 5, 2026-03-02 5.",
        # Two days before NOW topic 3 was too young to count as unanswered (1 of 2).
        f"Two-way conversation of Flood Wardens, {over} (% of topics or replies). "
        "unanswered in time: 2026-02-28 50, 2026-03-01 33.33, 2026-03-02 33.33; "
        "two-way (poster came back): 2026-02-28 50, 2026-03-01 50, 2026-03-02 50; "
        "cross-organisation replies: 2026-02-28 100, 2026-03-01 100, 2026-03-02 100.",
        # alice (steward, lead partner) started topic 1; bob of City Lab answered it.
        f"Centre and edge of Flood Wardens, {over} (% of announcements or replies). "
        "announcements answered by others in time: 2026-02-28 100, 2026-03-01 100, "
        "2026-03-02 100; "
        "replies to the centre by others: 2026-02-28 100, 2026-03-01 100, 2026-03-02 100.",
        f"People of Flood Wardens, {over} (people). "
        "participants: 2026-02-28 3, 2026-03-01 3, 2026-03-02 3; "
        "newcomers: 2026-02-28 3, 2026-03-01 3, 2026-03-02 3.",
    ]
    assert descriptions[4].startswith(
        "Pulse of Flood Wardens: posts per week, oldest first: week to 2025-12-15 0,"
    )
    assert descriptions[4].endswith("week to 2026-02-23 3, week to 2026-03-02 3.")
    assert descriptions[5] == (
        "Lead partners of Flood Wardens. City Lab: 2025-08-14 to 2025-11-22; "
        f"{RIVERLANDS}: 2025-11-22 to now."
    )
    partners = f"{RIVERLANDS}, City Lab"
    assert page.body("leadership") == [
        [
            "2026-01-11 12:00 UTC",
            f"{RIVERLANDS} (unchanged)",
            f"{partners}, Tree Guild",
            "Alice",
            "19",
        ],
        ["2025-11-22 12:00 UTC", f"{RIVERLANDS} (was City Lab)", partners, "Bob", "15"],
        ["2025-08-14 12:00 UTC", "City Lab", partners, "Alice", "11"],
    ]
    figures = dict(zip(page.terms, page.definitions, strict=True))
    assert figures["First reply, median, waiting topics counted"] == "5.0 h"
    assert figures["First reply, median of answered topics"] == "2.0 h"
    announced = "Centre → edge: announcements answered by others within 72 h"
    assert figures[announced] == "100% (1 of 1; 1 started)"
    assert figures["Centre → edge: replies to the centre by others"] == "100% (of 1)"
    # alice's two accounts are one person; the bot and the deleted post do not count;
    # bob's organisation is named by its full name, alice's by its forum group.
    assert page.body("participants") == [
        [RIVERLANDS, "1", "3"],
        ["City Lab", "1", "2"],
        ["No organisation", "1", "1"],
    ]
    assert descriptions[6] == (
        "Participants of Flood Wardens by organisation, 2026-01-31 to 2026-03-02: "
        f"{RIVERLANDS} 1, City Lab 1, No organisation 1."
    )


def test_the_constellation_page_links_both_sides_and_offers_to_resolve_its_conflict(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get(f"/dashboard/constellations/{FLOOD}")
    html = response.get_data(as_text=True)
    page = Page(html)
    wiki = app.config["CONSTELLATE"]["wiki"]["url"]
    assert (f"{wiki}/index.php?title=Flood_Wardens", "wiki page") in page.links
    assert (f"{FORUM_URL}/c/11", "forum category") in page.links
    assert (f"{FORUM_URL}/t/1010", "charter topic") in page.links
    # Only the charter post conflict is settled by choosing a side; the resolved malformed
    # issue and Cool Spaces' error are not this page's.
    resolve = [form for form in page.forms if "/sync/issues/" in form.action]
    assert [(form.action, form.fields["choice"]) for form in resolve] == [
        ("/dashboard/sync/issues/1/resolve", "keep_forum"),
        ("/dashboard/sync/issues/1/resolve", "use_wiki"),
    ]
    assert all(form.fields["csrf_token"] for form in resolve)
    assert "forum category &#39;Flood Wardens&#39;: it already belongs" in html
    assert "Settled by changing the wiki page." in html
    assert "fixed since" not in html and "not ours" not in html
    # The page's last finished sync run (a failed one of this page alone), then its record.
    facts = dict(zip(page.terms, page.definitions, strict=True))
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(dashboard\) failed the forum did not answer",
        facts["Last sync run"],
    )
    # Both sides of the charter, as text.
    assert "<script>" not in html
    assert "Keep &lt;b&gt;feet&lt;/b&gt; dry &amp; &lt;script&gt;alert(&#39;goal&#39;)" in html
    assert "&lt;script&gt;alert(&#39;forum&#39;)&lt;/script&gt; edited by hand" in html


def test_an_unknown_constellation_is_a_404_page_and_a_404_answer(client: FlaskClient) -> None:
    response = client.get("/dashboard/constellations/999")
    assert response.status_code == 404
    assert "No such constellation" in response.get_data(as_text=True)
    answer = client.get("/api/v1/constellations/999")
    assert answer.status_code == 404
    validate(answer.get_json(), "/constellations/{page_id}", 404)
    assert client.get("/dashboard/constellations/not-a-number").status_code == 404


def test_the_api_answers_as_described_with_the_figures_the_pages_show(
    app: Flask, client: FlaskClient
) -> None:
    listing = client.get("/api/v1/constellations").get_json()
    validate(listing, "/constellations")
    assert (listing["page"], listing["total"]) == (1, 2)
    cool, flood = listing["constellations"]
    assert (cool["page_id"], flood["page_id"]) == (COOL, FLOOD)
    assert flood["health"] == {
        "day": "2026-03-02",
        "window_days": 30,
        "computed_at": "2026-03-02T12:00:00+00:00",
        "topics": 3,
        "km_median_first_response_hours": 5.0,
        "median_first_response_hours": 2.0,
        "unanswered_rate": pytest.approx(1 / 3),
        "two_way_ratio": 0.5,
        "participants": 3,
        "posts": 6,
        "centre_edge": {
            "hours": 72,
            "announcements": 1,
            "eligible": 1,
            "answered_from_edge": 1,
            "answered_rate": 1.0,
            "replies_to_centre": 1,
            "reply_ratio": 1.0,
        },
    }
    assert flood["pulse"]["beats"] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 3]
    assert flood["pulse"]["beat_ends"][-2:] == ["2026-02-23", "2026-03-02"]

    detail = client.get(f"/api/v1/constellations/{FLOOD}").get_json()
    validate(detail, "/constellations/{page_id}")
    assert detail["charter"]["goal"] == HOSTILE_GOAL
    assert detail["sync"]["forum_text"] == FORUM_TEXT
    assert detail["sync"]["topic_url"] == f"{FORUM_URL}/t/1010"
    last_run = detail["sync"]["last_run"]
    assert (last_run["trigger"], last_run["error"]) == ("dashboard", "the forum did not answer")
    series = {s["metric"]: s["points"] for s in detail["metrics"]["series"]}
    assert [p["value"] for p in series["unanswered.rate"]] == [
        0.5,
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
    ]
    assert [(c["lead_partner"], c["new_lead"]) for c in detail["leadership"]] == [
        ("City Lab", True),
        (RIVERLANDS, True),
        (RIVERLANDS, False),
    ]
    assert detail["participants_by_organisation"]["organisations"][0] == {
        "organisation": RIVERLANDS,
        "participants": 1,
        "posts": 3,
    }
    assert [(i["field"], i["resolvable"]) for i in detail["open_issues"]] == [
        ("charter_post", True),
        ("forum_category", False),
    ]

    alerts = client.get("/api/v1/alerts").get_json()
    validate(alerts, "/alerts")
    assert [(a["label"], a["rule"]) for a in alerts["alerts"]] == open_alerts_in_store(app)
    quiet = next(a for a in alerts["alerts"] if a["rule"] == "quiet")
    assert (quiet["page_id"], quiet["value"], quiet["window_days"]) == (COOL, 0, 90)


def test_names_with_markup_stay_text_everywhere(app: Flask, client: FlaskClient) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    with get_store(app).session() as session:
        add_constellation(
            session,
            103,
            13,
            f"Heat {hostile} Watch",
            lead="<script>alert(1)</script>",
            partners=("Somebody",),
        )
    overview = client.get("/dashboard/").get_data(as_text=True)
    detail = client.get("/dashboard/constellations/103").get_data(as_text=True)
    for html in (overview, detail):
        assert hostile not in html and "<script>alert(1)" not in html
        assert "Heat &lt;img src=x onerror=alert(1)&gt; Watch" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # In the charts too (their titles name the constellation).
    titles = Page(detail).titles()
    assert (
        titles[0]
        == f"Time to first response of Heat {hostile} Watch, each day over the 30 days before"
    )
    answer = client.get("/api/v1/constellations/103").get_json()
    assert (answer["title"], answer["lead_partner"]) == (
        f"Heat {hostile} Watch",
        "<script>alert(1)</script>",
    )


def test_the_overview_pages_through_many_constellations(app: Flask, client: FlaskClient) -> None:
    with get_store(app).session() as session:
        for n in range(51):
            # Pages may name the lead by its forum group: it is shown by its full name.
            add_constellation(
                session, 1000 + n, 500 + n, f"Team {n:02d}", lead="city-lab", partners=("City Lab",)
            )
    first = get_page(client, "/dashboard/")
    second = get_page(client, "/dashboard/?page=2")
    assert len(first.body("constellations")) == 50
    assert [row[:3] for row in second.body("constellations")] == [
        [f"Team {n}", "active", "City Lab"] for n in (48, 49, 50)
    ]
    # Not measured yet: no snapshot exists for the new teams.
    assert second.body("constellations")[0][3] == "Not measured yet"
    assert ("/dashboard/?page=1", "Previous") in second.links
    assert get_page(client, "/dashboard/?page=bogus").body("constellations")[0][0] == "Cool Spaces"
    answer = client.get("/api/v1/constellations?page=2").get_json()
    validate(answer, "/constellations")
    assert (answer["total"], len(answer["constellations"])) == (53, 3)
    assert answer["constellations"][0]["health"] is None


def test_nobody_but_a_moderator_or_a_token_reads_them(app: Flask) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/dashboard/").status_code == 302
    assert anonymous.get(f"/dashboard/constellations/{FLOOD}").status_code == 302
    for url in ("/api/v1/constellations", f"/api/v1/constellations/{FLOOD}", "/api/v1/alerts"):
        assert anonymous.get(url).status_code == 401


def test_other_pages_can_link_here_by_endpoint(app: Flask) -> None:
    with app.test_request_context():
        assert url_for("dashboard.overview") == "/dashboard/"
        assert url_for("dashboard.constellation", page_id=FLOOD) == "/dashboard/constellations/101"
