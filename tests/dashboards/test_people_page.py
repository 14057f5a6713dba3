"""The People pages and their API on a real store (SQLite and PostgreSQL): identity-link
suggestions approved and rejected through community/credits/people.py, the leaderboard
without opted-out people, organisations, and one person's score explained with ledger
rows linking to the real wiki revision and the forum post they came from."""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

import dashboards.people  # noqa: F401 (registers the routes before any app is made)
from community import activity
from community.credits import ledger
from community.credits import people as directory
from community.credits.forum_credit import credit_post
from community.credits.models import Account, LinkSuggestion, Person
from community.credits.wiki_credit import credit_wiki_change
from community.handling import HandlerContext
from community.partners.models import Partner
from core.store import Store, get_store
from dashboards.openapi import response_schema
from tests.conftest import SessionWiki
from tests.dashboards.support import dashboard_app, login
from tests.webhooks.incoming_support import load_fixture, wire_body
from webhooks.incoming.discourse_events import normalise
from webhooks.incoming.wiki_events import change_event

FORUM_URL = "https://forum.example.org"
HOSTILE = "<script>alert(1)</script>"
PARTNERS = {"harbour": "Harbour Food Bank", "pantry": "North Pantry", "hostile": f"Org {HOSTILE}"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Site:
    """The service on one store with a logged-in moderator's browser."""

    def __init__(self, store_url: str, **sections: dict[str, Any]) -> None:
        sections.setdefault("forum", {"url": FORUM_URL})
        self.app: Flask = dashboard_app(store_url, csrf=False, clock=None, **sections)
        self.settings: Any = self.app.config["CONSTELLATE"]
        self.store: Store = get_store(self.app)
        self.client: FlaskClient = self.app.test_client()
        login(self.client, "mod_anna")
        with self.store.session() as session:  # the partners a moderator may choose
            for group, name in PARTNERS.items():
                session.add(Partner(group_name=group, name=name))

    def page(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, answer.status_code
        return answer.get_data(as_text=True)

    def post(self, path: str, **form: str) -> str:
        """POST a form; answers the page it redirects to (with its flash), unescaped."""
        answer = self.client.post(path, data=form)
        assert answer.status_code == 303, answer.status_code
        assert answer.location is not None
        return unescape(self.page(answer.location))

    def api(self, path: str, status: int = 200) -> Any:
        answer = self.client.get(f"/api/v1{path}")
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.get_json()

    def credit(
        self, platform: str, account: str, kind: str, ref: str, weight: float, at: datetime
    ) -> str:
        """A ledger row as the crediting handlers write it; returns its key."""
        obj = f"post:{ref}" if platform == "forum" else f"page:{ref}"
        made = ledger.Contribution(platform, account, kind, obj, ref, weight, at, kind)
        with self.store.session() as session:
            assert ledger.credit(session, made)
        return made.key

    def person_of(self, platform: str, username: str) -> int:
        with self.store.session() as session:
            account = session.scalars(
                select(Account).where(Account.platform == platform, Account.username == username)
            ).one()
            return account.person_id

    def suggest(self, wiki_name: str, forum_name: str) -> int:
        with self.store.session() as session:
            directory.ensure_account(session, "wiki", wiki_name)
            directory.ensure_account(session, "forum", forum_name)
            row = LinkSuggestion(
                wiki_username=wiki_name, forum_username=forum_name, reasons=["same username"]
            )
            session.add(row)
            session.flush()
            return row.id


@pytest.fixture
def site(store_url: str) -> Site:
    return Site(store_url)


def validate(data: Any, path: str, status: int = 200) -> None:
    schema = response_schema(path, status)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(data)


def rows_of(html: str, table_class: str) -> list[str]:
    """The text of each body row of the table with ``table_class``, tags stripped."""
    table = re.search(rf'<table class="data {table_class}">(.*?)</table>', html, re.S)
    assert table is not None, f"no table {table_class}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    assert body is not None
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split()) for row in rows]


# -- identity-link suggestions ----------------------------------------------------------------


def test_approve_links_the_two_accounts_and_a_second_approve_is_a_clear_error(
    site: Site,
) -> None:
    suggestion = site.suggest("Ana Lima", "ana_lima")
    site.credit("wiki", "Ana Lima", "page_created", "11", 3.0, T0)
    site.credit("forum", "ana_lima", "forum_reply", "501", 1.0, T0)
    forum_person = site.person_of("forum", "ana_lima")
    assert site.person_of("wiki", "Ana Lima") != forum_person
    before = site.page("/dashboard/people")
    assert "Ana Lima" in before and "1 open" in before

    shown = site.post(f"/dashboard/people/suggestions/{suggestion}/approve")

    assert f"Suggestion {suggestion}: wiki:Ana Lima and forum:ana_lima are now one person." in shown
    # As people.link defines it: the wiki account joins the forum account's person.
    assert site.person_of("wiki", "Ana Lima") == forum_person
    with site.store.session() as session:
        row = session.get_one(LinkSuggestion, suggestion)
        assert (row.state, row.decided_by) == ("linked", "mod_anna")
    board = rows_of(shown, "leaderboard")
    assert board == ["1 ana_lima — forum:ana_lima wiki:Ana Lima 4 · 3 1 · · · ·"]

    again = site.post(f"/dashboard/people/suggestions/{suggestion}/approve")
    assert re.search(
        rf"Suggestion {suggestion} \(wiki:Ana Lima and forum:ana_lima\) was already approved "
        r"\(linked\) by mod_anna on \d{4}-\d\d-\d\d \d\d:\d\d UTC\.",
        again,
    )
    assert 'class="flash error"' in again
    refused = site.post(f"/dashboard/people/suggestions/{suggestion}/reject")
    assert "was already approved (linked) by mod_anna" in refused
    with site.store.session() as session:
        assert session.get_one(LinkSuggestion, suggestion).state == "linked"
    assert "No identity suggestions wait for a decision." in refused


def test_reject_keeps_the_accounts_apart_for_good(site: Site) -> None:
    suggestion = site.suggest("Ben Okafor", "benok")
    wiki_person, forum_person = (
        site.person_of("wiki", "Ben Okafor"),
        site.person_of("forum", "benok"),
    )

    shown = site.post(f"/dashboard/people/suggestions/{suggestion}/reject")

    assert "wiki:Ben Okafor and forum:benok are not one person; never suggested again." in shown
    with site.store.session() as session:
        row = session.get_one(LinkSuggestion, suggestion)
        assert (row.state, row.decided_by) == ("rejected", "mod_anna")
    assert site.person_of("wiki", "Ben Okafor") == wiki_person
    # A rejected pair is not linked by a late Approve.
    again = site.post(f"/dashboard/people/suggestions/{suggestion}/approve")
    assert "was already rejected by mod_anna" in again
    assert site.person_of("wiki", "Ben Okafor") == wiki_person != forum_person


def test_the_link_suggestions_api_lists_by_state_and_matches_its_schema(site: Site) -> None:
    first = site.suggest("Cleo Diaz", "cleo")
    second = site.suggest("Dev Rao", "devr")
    site.post(f"/dashboard/people/suggestions/{second}/reject")

    waiting = site.api("/link-suggestions")
    validate(waiting, "/link-suggestions")
    assert waiting["open_count"] == 1 and waiting["next_page"] is None
    assert [(s["id"], s["state"]) for s in waiting["suggestions"]] == [(first, "open")]
    assert waiting["suggestions"][0]["forum_person_id"] == site.person_of("forum", "cleo")
    rejected = site.api("/link-suggestions?state=rejected")
    validate(rejected, "/link-suggestions")
    assert [s["wiki_username"] for s in rejected["suggestions"]] == ["Dev Rao"]
    wrong = site.api("/link-suggestions?state=maybe", status=400)
    validate(wrong, "/link-suggestions", 400)


# -- the leaderboard and organisations ----------------------------------------------------------


def test_the_leaderboard_ranks_by_credit_and_hides_opted_out_people(site: Site) -> None:
    site.credit("forum", "rosa", "forum_reply", "1", 1.0, T0)
    site.credit("forum", "rosa", "accepted_solution", "2", 5.0, T0)
    site.credit("forum", "sam", "forum_reply", "3", 1.0, T0)
    taken = site.credit("forum", "sam", "accepted_solution", "4", 5.0, T0)
    site.credit("forum", "hidden_hugo", "accepted_solution", "5", 5.0, T0)
    site.credit("forum", "hidden_hugo", "forum_reply", "6", 1.0, T0)
    site.credit("wiki", "Tess", "page_created", "7", 3.0, T0)
    with site.store.session() as session:
        ledger.cancel(session, taken, reason="solution unaccepted", at=T0 + timedelta(hours=1))
        hugo = session.get_one(Person, site.person_of("forum", "hidden_hugo"))
        directory.set_opt_out(session, hugo, True)
        rosa = session.get_one(Person, site.person_of("forum", "rosa"))
        directory.set_organisation(session, rosa, "Harbour Food Bank", "mod_anna")

    html = site.page("/dashboard/people")

    assert rows_of(html, "leaderboard") == [
        "1 rosa Harbour Food Bank forum:rosa 6 · · 1 5 · · ·",
        "2 Tess — wiki:Tess 3 · 3 · · · · ·",
        "3 sam — forum:sam 1 · · 1 0 · · ·",
    ]
    assert "hidden_hugo" not in html
    assert "1 person has opted out of leaderboards" in unescape(html)
    board = site.api("/people")
    validate(board, "/people")
    assert [(p["rank"], p["name"], p["total"]) for p in board["people"]] == [
        (1, "rosa", 6.0),
        (2, "Tess", 3.0),
        (3, "sam", 1.0),
    ]
    assert board["people"][2]["by_kind"] == {"forum_reply": 1.0, "accepted_solution": 0.0}
    assert board["opted_out"] == 1 and board["next_page"] is None
    # One organisation's people.
    only = site.api("/people?organisation=Harbour%20Food%20Bank")
    assert [p["name"] for p in only["people"]] == ["rosa"]
    filtered = site.page("/dashboard/people?organisation=Harbour+Food+Bank")
    assert [r.split()[1] for r in rows_of(filtered, "leaderboard")] == ["rosa"]
    # Every registered partner is listed, with its forum group, people or not.
    organisations = rows_of(html, "organisations")
    assert organisations[:2] == ["Harbour Food Bank harbour 1", "North Pantry pantry 0"]
    assert re.search(r"No organisation</td><td class=\"num\">3<", html)


def test_the_leaderboard_is_paged(site: Site) -> None:
    # 52 people, person n with n points: page two holds the two lowest.
    for n in range(1, 53):
        site.credit("forum", f"p{n:02d}", "forum_reply", str(n), float(n), T0)

    first = site.api("/people")
    second = site.api("/people?page=2")

    assert [p["name"] for p in first["people"]][:2] == ["p52", "p51"]
    assert len(first["people"]) == 50 and first["next_page"] == 2
    assert [(p["rank"], p["name"]) for p in second["people"]] == [(51, "p02"), (52, "p01")]
    assert second["next_page"] is None
    html = site.page("/dashboard/people?page=2")
    assert [r.split()[:2] for r in rows_of(html, "leaderboard")] == [["51", "p02"], ["52", "p01"]]
    assert 'href="/dashboard/people?page=1"' in html and "page=3" not in html


def test_a_moderator_sets_a_persons_organisation(site: Site) -> None:
    site.credit("forum", "uma", "forum_reply", "1", 1.0, T0)
    person = site.person_of("forum", "uma")

    shown = site.post(f"/dashboard/people/{person}/organisation", organisation="  North   Pantry ")

    assert f"Person {person} is now with North Pantry." in shown
    with site.store.session() as session:
        found = session.get_one(Person, person)
        assert (found.organisation, found.organisation_source) == ("North Pantry", "moderator")
    assert "set by a moderator" in shown
    refused = site.post(f"/dashboard/people/{person}/organisation", organisation=" ")
    assert "Not changed: organisation '': expected 1 to 255 characters" in refused
    unknown = site.post(f"/dashboard/people/{person}/organisation", organisation="Translators")
    assert "Not changed: organisation 'Translators': not a registered partner" in unknown
    with site.store.session() as session:
        assert session.get_one(Person, person).organisation == "North Pantry"


# -- one person -----------------------------------------------------------------------------------


def test_the_ledger_is_paged_newest_first_across_accounts(site: Site) -> None:
    suggestion = site.suggest("Vera", "vera")
    for n in range(30):  # interleaved in time: even hours on the wiki, odd on the forum
        site.credit("wiki", "Vera", "page_created", str(100 + n), 3.0, T0 + timedelta(hours=2 * n))
        at = T0 + timedelta(hours=2 * n + 1)
        site.credit("forum", "vera", "forum_reply", str(200 + n), 1.0, at)
    site.post(f"/dashboard/people/suggestions/{suggestion}/approve")
    person = site.person_of("forum", "vera")

    first = site.api(f"/people/{person}/ledger")
    second = site.api(f"/people/{person}/ledger?page=2")

    validate(first, "/people/{person_id}/ledger")
    assert first["score"] == {
        "total": 120.0,
        "by_kind": [
            {"kind": "page_created", "entries": 30, "cancelled": 0, "points": 90.0},
            {"kind": "forum_reply", "entries": 30, "cancelled": 0, "points": 30.0},
        ],
    }
    assert first["next_page"] == 2 and second["next_page"] is None
    times = [e["occurred_at"] for e in first["entries"] + second["entries"]]
    assert len(times) == 60 and times == sorted(times, reverse=True)
    assert [e["ref"] for e in second["entries"]] == ["204", "104", "203", "103", "202", "102",
                                                     "201", "101", "200", "100"]  # fmt: skip


def test_the_person_page_explains_the_score_and_links_each_row_to_its_source(
    wiki: SessionWiki, tmp_path: Path
) -> None:
    site = Site(f"sqlite:///{tmp_path / 'store.db'}", wiki=wiki.config())
    # A real wiki page created by a real account, credited by the real handler.
    name = f"Credit {uuid.uuid4().hex[:8]}"
    wiki.sandbox.run_maintenance("createAndPromote.php", name, secrets.token_hex(12))
    title = wiki.title("Credit page")
    bot = wiki.bot()
    since = bot.latest_cursor()
    wiki.sandbox.run_maintenance(
        "edit.php", "--user", name, "--summary", "test", title, stdin="one two three four"
    )
    page = bot.read_pages([title])[title]
    with site.store.session() as session:
        for change in bot.recent_changes(since):
            if change.title == title:
                credit_wiki_change(change_event(change), HandlerContext(session, site.settings))
    # A forum reply from the captured webhook, recorded and credited by the real handlers.
    body = copy.deepcopy(load_fixture("post__post_created")["body"])
    post = body["post"]
    post.update(username="wren_forum", user_id=31, id=9101, topic_id=4242, post_number=3)
    event = normalise("post_created", body, wire_body(body), delivery_id="d-9101", received=T0)
    with site.store.session() as session:
        context = HandlerContext(session, site.settings)
        activity.record_post(event, context)
        credit_post(event, context)
    with site.store.session() as session:
        directory.link(session, (name, "wren_forum"), "mod_anna")
        reply = ledger.active_entries(session, platform="forum", account="wren_forum")[0]
        ledger.cancel(session, reply.entry_key, reason="post deleted", at=T0 + timedelta(days=1))
    person = site.person_of("forum", "wren_forum")

    html = site.page(f"/dashboard/people/{person}")

    text = unescape(html)
    assert f"wiki: <strong>{name}</strong>" in text and "forum: <strong>wren_forum</strong>" in text
    assert rows_of(html, "score") == [
        "wiki text 1 0 1 per unit of surviving text 0.04",
        "page created 1 0 3 3",
        "forum reply 1 1 2 0",
    ]
    revision = page.revid
    wiki_link = f"{wiki.url}/index.php?oldid={revision}"
    assert f'href="{wiki_link}"' in html
    assert f'href="{FORUM_URL}/t/4242/3"' in html
    ledger_rows = rows_of(html, "ledger")
    assert any("counter-entry post deleted" in r for r in ledger_rows)
    assert any("taken back post deleted" in r for r in ledger_rows)
    # The revision link leads to that revision of the page on the real wiki.
    shown = requests.get(wiki_link, timeout=10)
    assert shown.status_code == 200 and "one two three four" in shown.text

    data = site.api(f"/people/{person}/ledger")
    validate(data, "/people/{person_id}/ledger")
    sources = {e["kind"]: e["source_url"] for e in data["entries"] if not e["counter_entry"]}
    assert sources["page_created"] == wiki_link
    assert sources["forum_reply"] == f"{FORUM_URL}/t/4242/3"


def test_an_opted_out_persons_page_shows_no_person_level_metrics(site: Site) -> None:
    site.credit("forum", "quiet_quinn", "forum_reply", "77", 1.0, T0)
    person = site.person_of("forum", "quiet_quinn")
    with site.store.session() as session:
        directory.set_opt_out(session, session.get_one(Person, person), True)

    html = site.page(f"/dashboard/people/{person}")

    assert "opted out of being named and of person-level metrics" in html
    assert 'class="data score"' not in html and 'class="data ledger"' not in html
    assert "post:77" not in html and "quiet_quinn" not in html
    data = site.api(f"/people/{person}/ledger")
    validate(data, "/people/{person_id}/ledger")
    assert (data["opted_out"], data["score"], data["entries"]) == (True, None, [])
    assert (data["name"], data["accounts"]) == (f"Person {person}", [])


def test_markup_in_names_is_shown_as_text(site: Site) -> None:
    site.credit("wiki", HOSTILE, "page_created", "5", 3.0, T0)
    person = site.person_of("wiki", HOSTILE)
    with site.store.session() as session:
        found = session.get_one(Person, person)
        directory.set_organisation(session, found, f"Org {HOSTILE}", "mod_anna")
    site.suggest(HOSTILE, "plain_name")

    for path in ("/dashboard/people", f"/dashboard/people/{person}"):
        html = site.page(path)
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("unknown", ["999999", "385756334324002318188544"])  # beyond 64 bits
def test_unknown_ids_are_404(site: Site, unknown: str) -> None:
    assert site.client.get(f"/dashboard/people/{unknown}").status_code == 404
    assert site.client.get(f"/dashboard/constellations/{unknown}").status_code == 404
    for action in ("approve", "reject"):
        answer = site.client.post(f"/dashboard/people/suggestions/{unknown}/{action}")
        assert answer.status_code == 404
    form = {"organisation": "X"}
    answer = site.client.post(f"/dashboard/people/{unknown}/organisation", data=form)
    assert answer.status_code == 404
    missing = site.api("/people/999999/ledger", status=404)
    validate(missing, "/people/{person_id}/ledger", 404)
