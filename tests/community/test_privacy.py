"""Privacy everywhere, in one test on both stores with the real wiki and the forum
sandbox: a person opts out themselves on their own page (a DiscourseConnect login, no
moderator), and then every place that names people leaves them out while counting them:

- badges: theirs is taken back on the forum (DELETE /user_badges/{id}.json) and not
  granted again while they stay out;
- wiki sections: the constellation section's "Active participants" and credits, the
  practice section's credits, the partner section (which counts, never names);
- the leaderboard (command, dashboard and API);
- the person page (dashboard) and the person-level API;
- the exports (CSV and JSON), whose aggregate row keeps their credit.

Opting back in brings the name and the badge back."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from community.bot_section import BEGIN, END
from community.constellations.handlers import refresh_section
from community.constellations.models import PageTopicLink
from community.constellations.sync import sync_constellations
from community.credits import export, ledger, people
from community.credits.badges import award_badges
from community.credits.credits_section import practice_credits_block
from community.credits.models import BadgeGrant
from community.handling import HandlerContext
from community.partners.models import Partner
from community.partners.section import render_section as partner_section
from community.practices.models import Practice
from core import event_kinds
from core.events import Event
from dashboards.privacy_views import CALLBACK_PATH, PAGE_PATH
from service.worker import Worker
from tests.community.conftest import CONNECT_HOST
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.community.test_badges import person_with, record_sent
from tests.community.test_people import forum_browser
from tests.community.test_wiki_credit import edit_as
from tests.conftest import SessionForum
from tests.dashboards.support import login

BODY = "A post long enough for the forum's minimum, number"
PRACTICE_PAGE = 424242
ORGANISATION = "North Pantry"


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


def log_in_on_own_page(client: FlaskClient, forum: SessionForum, username: str) -> str:
    """Open the privacy page, log in on the forum as ``username``, come back; the page."""
    start = client.get(PAGE_PATH)
    assert start.status_code == 302
    browser: requests.Session = forum_browser(forum, username)
    answer = browser.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.netloc, back.path) == (CONNECT_HOST, CALLBACK_PATH)
    done = client.get(f"{back.path}?{back.query}")
    assert done.status_code == 303
    page = client.get(PAGE_PATH)
    assert (
        page.status_code == 200 and f"The forum confirmed you are <strong>{username}" in page.text
    )
    return page.text


def section(rig: SyncRig, title: str) -> str:
    text = rig.wiki.read_pages([title])[title].text
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)]


def write_section(rig: SyncRig, page_id: int) -> None:
    """The constellation section written as the worker's refresh writes it."""
    event = Event(
        event_id=f"test:section:{uuid.uuid4().hex}",
        kind=event_kinds.SECTION_REFRESH,
        source="schedule",
        subject=f"page:{page_id}",
        actor=None,
        occurred_at=datetime.now(UTC),
        delivery_id=None,
        payload={"page_id": page_id},
    )
    with rig.store.session() as session:
        refresh_section(event, HandlerContext(session, rig.settings))


def work(rig: SyncRig, app: Flask) -> None:
    worker = Worker(rig.store, app.config["CONSTELLATE"], sleep=lambda _s: None)
    for _ in range(50):
        if not worker.run_once():
            return


def test_an_opted_out_person_is_counted_but_never_named(
    linking: tuple[SyncRig, Flask], forum: SessionForum
) -> None:
    rig, app = linking
    names, wiki = rig.session_forum.name, rig.session_wiki
    shy, open_ = names("shy"), names("opn")
    for username in (shy, open_):
        rig.forum.create_user(username, username.title(), f"{username}@example.org")

    # A constellation with a forum category where both post; both credited and listed.
    title = wiki.title("Privacy constellation")
    edit_as(wiki, wiki.sandbox.human_username, title, charter_text(names("cat-")))
    sync_constellations(rig.store, rig.settings, titles=[title])
    with rig.store.session() as session:
        link = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title == title)).one()
        category, practice_scope = link.forum_category_id, f"page:{PRACTICE_PAGE}"
    topic = rig.forum.acting_as(open_).create_topic(
        f"Privacy {names('')}", BODY + " zero.", category_id=category, external_id=names("x")
    )
    replies = [
        rig.forum.acting_as(who).reply(topic.topic_id, f"{BODY} {who}.") for who in (shy, open_)
    ]
    with rig.store.session() as session:
        for post_id in (topic.post_id, *(post.id for post in replies)):
            record_sent(session, rig, int(post_id or 0))
        for who in (shy, open_):
            person_with(session, "forum", who, ORGANISATION)
            ledger.credit(
                session,
                ledger.Contribution(
                    platform="forum", account=who, kind="practice_adopted",
                    object=f"practice:{PRACTICE_PAGE}", ref="adoption:city kitchen", weight=15,
                    occurred_at=datetime.now(UTC), rule="practice_adopted",
                    scope=practice_scope,
                ),
            )  # fmt: skip
        award_badges(session, rig.forum, rig.settings, wiki=rig.wiki)
        session.commit()
    write_section(rig, link.wiki_page_id)
    assert f"* {shy} ({ORGANISATION})" in section(rig, title)
    assert len(rig.forum.user_badges(shy)) == 1
    with rig.store.session() as session:
        partner = session.get_one(Partner, "north-pantry")
        belong_before = partner_section(session, rig.settings, partner).split("; ")[1]
        shy_person = people.find_person(session, f"forum:{shy}").id

    # Shy opts out on their own page: a forum login, a form with a CSRF token.
    client = app.test_client()
    page = log_in_on_own_page(client, forum, shy)
    assert "You are listed" in page
    assert client.post(PAGE_PATH, data={"choice": "out"}).status_code == 400  # no token
    chosen = client.post(PAGE_PATH, data={"choice": "out", "csrf_token": token_in(page)})
    assert chosen.status_code == 200 and "You have opted out" in chosen.text
    work(rig, app)  # the worker takes the badge back and rewrites the sections

    # Badges: taken back on the forum, kept as a revoked grant, not granted again.
    assert rig.forum.user_badges(shy) == [] and len(rig.forum.user_badges(open_)) == 1
    with rig.store.session() as session:
        grant = session.scalars(select(BadgeGrant).where(BadgeGrant.username == shy)).one()
        assert grant.revoked_at is not None
        assert award_badges(session, rig.forum, rig.settings, wiki=rig.wiki) == []
    # Wiki sections: active participants and credits count shy without the name.
    inside = section(rig, title)
    assert shy not in inside and f"* {open_} ({ORGANISATION})" in inside
    assert "* And 1 more person who posted asked not to be listed." in inside
    assert "* and 1 more contributor who asked not to be listed." in inside
    with rig.store.session() as session:
        practice = Practice(page_id=PRACTICE_PAGE, title="Privacy practice", tag="p", revid=1)
        block = "\n".join(practice_credits_block(session, rig.settings, practice))
        assert shy not in block and open_ in block and "1 more contributor" in block
        text = partner_section(session, rig.settings, session.get_one(Partner, "north-pantry"))
        assert shy not in text and text.split("; ")[1] == belong_before  # still counted
        # Leaderboard and exports: not named; the aggregate keeps the credit.
        board = export.leaderboard(session, limit=100)
        assert [p.name for p in board if shy in p.name] == []
        assert any(p.name == open_ for p in board)
        csv_text, document = export.export_csv(session), json.loads(export.export_json(session))
        assert shy not in csv_text and shy not in json.dumps(document)
        assert document["opted_out"]["people"] == 1
        assert document["opted_out"]["by_kind"]["practice_adopted"] == 15
    # The dashboard's leaderboard, person page and API (a moderator's view).
    moderator = app.test_client()
    login(moderator, "mod_anna")
    for path in ("/dashboard/people", f"/dashboard/people/{shy_person}"):
        answer = moderator.get(path)
        assert answer.status_code == 200 and shy not in answer.text, path
    assert open_ in moderator.get("/dashboard/people").text
    for path in ("/api/v1/people", f"/api/v1/people/{shy_person}/ledger"):
        answer = moderator.get(path)
        assert answer.status_code == 200 and shy not in answer.text, path
    assert moderator.get("/api/v1/people").get_json()["opted_out"] == 1

    # Back in, on the same page: named again and the badge granted again (same grant).
    chosen = client.post(PAGE_PATH, data={"choice": "in", "csrf_token": token_in(chosen.text)})
    assert chosen.status_code == 200 and "You are listed" in chosen.text
    work(rig, app)
    assert len(rig.forum.user_badges(shy)) == 1
    with rig.store.session() as session:
        grant = session.scalars(select(BadgeGrant).where(BadgeGrant.username == shy)).one()
        assert grant.revoked_at is None
    # (The refresh this asked for is coalesced into the next interval: written here now.)
    write_section(rig, link.wiki_page_id)
    assert f"* {shy} ({ORGANISATION})" in section(rig, title)
