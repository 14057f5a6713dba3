"""Wiki credit from real wiki edits: surviving text, page creation, reverts, deletion,
replays, and the contributors the wiki itself lists."""

from __future__ import annotations

import secrets
import uuid

import pytest
import requests
from sqlalchemy import select

from community.credits import ledger
from community.credits.authorship import shares, surviving_tokens
from community.credits.models import Account, CreditEntry, WikiAuthorship
from community.credits.wiki_credit import credit_wiki_change
from community.handling import HandlerContext
from service.dispatch import handlers_for
from tests.community.constellations.sync_support import SyncRig
from tests.conftest import SessionWiki
from webhooks.incoming.wiki_events import change_event

TEN = "one two three four five six seven eight nine ten"
B_TEXT = "one two tres cuatro cinco seis seven eight nine ten b1 b2 b3 b4 b5 b6"
D_TEXT = "one two three four five d1 d2 d3 d4 d5 six seven eight nine"


def make_account(wiki: SessionWiki, prefix: str) -> str:
    """A new registered (non-bot) wiki account."""
    name = f"{prefix} {uuid.uuid4().hex[:8]}"
    wiki.sandbox.run_maintenance("createAndPromote.php", name, secrets.token_hex(12))
    return name


def edit_as(wiki: SessionWiki, user: str, title: str, text: str) -> None:
    """An edit by any account, made on the wiki itself (a normal, non-bot revision)."""
    wiki.sandbox.run_maintenance("edit.php", "--user", user, "--summary", "test", title, stdin=text)


def edit_anonymously(wiki: SessionWiki, title: str, text: str) -> None:
    """An edit by a logged-out visitor: the wiki records the IP address as its user."""
    web = requests.Session()
    tokens = web.get(wiki.api, params={"action": "query", "meta": "tokens", "format": "json"})
    token = tokens.json()["query"]["tokens"]["csrftoken"]
    form = {"action": "edit", "title": title, "text": text, "token": token, "format": "json"}
    answer = web.post(wiki.api, data=form).json()
    assert answer["edit"]["result"] == "Success", answer


def run_events(rig: SyncRig, title: str, since: str | None) -> int:
    """Hand every wiki change to ``title`` since ``since`` to the credit handler."""
    events = [change_event(c) for c in rig.wiki.recent_changes(since) if c.title == title]
    for event in events:
        with rig.store.session() as session:
            credit_wiki_change(event, HandlerContext(session, rig.settings))
            session.commit()
    return len(events)


def ledger_rows(rig: SyncRig, page_id: int) -> list[tuple[str, str, float, str | None]]:
    with rig.store.session() as session:
        rows = session.scalars(
            select(CreditEntry)
            .where(CreditEntry.object == f"page:{page_id}")
            .order_by(CreditEntry.id)
        )
        return [(r.entry_key, r.account, round(r.weight, 6), r.reason) for r in rows]


def active(rig: SyncRig, page_id: int) -> dict[tuple[str, str], float]:
    with rig.store.session() as session:
        entries = ledger.active_entries(session, platform="wiki", object=f"page:{page_id}")
        return {(e.kind, e.account): round(e.weight, 6) for e in entries}


def test_surviving_text_reverts_and_replays_on_the_real_wiki(rig: SyncRig) -> None:
    wiki = rig.session_wiki
    a, c = wiki.sandbox.human_username, wiki.sandbox.admin_username
    b = make_account(wiki, "Credit B")
    title = wiki.title("Credit page")
    start = rig.wiki.latest_cursor()

    edit_as(wiki, a, title, TEN)
    edit_as(wiki, b, title, B_TEXT)
    assert run_events(rig, title, start) == 2
    page_id = rig.wiki.read_pages([title])[title].pageid
    assert page_id is not None
    # Hand-computed: B rewrote four of A's ten words and added six.
    assert active(rig, page_id) == {
        ("page_created", a): 3.0,
        ("wiki_text", a): 0.06,
        ("wiki_text", b): 0.10,
    }

    # C reverts B: B's credit is cancelled by a counter-entry; A's words are A's again.
    since = rig.wiki.latest_cursor()
    edit_as(wiki, c, title, TEN)
    run_events(rig, title, since)
    assert active(rig, page_id) == {("page_created", a): 3.0, ("wiki_text", a): 0.10}
    reverted = rig.wiki.read_pages([title])[title].revid
    cancels = [row for row in ledger_rows(rig, page_id) if row[1] == b and row[2] < 0]
    assert len(cancels) == 1 and cancels[0][3] == f"text changed in revision {reverted}"

    # D edits; the bot edits too (bots are never credited, nor listed by the wiki).
    since = rig.wiki.latest_cursor()
    d = make_account(wiki, "Credit D")
    edit_as(wiki, d, title, D_TEXT)
    page = rig.wiki.read_pages([title])[title]
    rig.wiki.edit(title, D_TEXT + " bot", summary="test", base=page)
    run_events(rig, title, since)
    with rig.store.session() as session:
        row = session.get(WikiAuthorship, page_id)
        assert row is not None
        assert surviving_tokens(row.state) == {a: 9, d: 5, "ConstellateBot": 1}
        assert shares(row.state)[a] == pytest.approx(9 / 15)
    assert active(rig, page_id) == {
        ("page_created", a): 3.0,
        ("wiki_text", a): 0.09,
        ("wiki_text", d): 0.05,
    }
    assert set(rig.wiki.contributors(title)) == {a, b, c, d}

    # Replaying every event of the page, twice, writes nothing.
    before = ledger_rows(rig, page_id)
    run_events(rig, title, start)
    run_events(rig, title, start)
    assert ledger_rows(rig, page_id) == before


def test_a_deleted_page_cancels_its_credit_and_a_restore_brings_it_back(rig: SyncRig) -> None:
    wiki = rig.session_wiki
    a, admin = wiki.sandbox.human_username, wiki.sandbox.admin_username
    title = wiki.title("Credit deleted")
    start = rig.wiki.latest_cursor()
    edit_as(wiki, a, title, TEN)
    page_id = rig.wiki.read_pages([title])[title].pageid
    assert page_id is not None
    run_events(rig, title, start)
    assert active(rig, page_id) == {("page_created", a): 3.0, ("wiki_text", a): 0.10}

    since = rig.wiki.latest_cursor()
    wiki.sandbox.run_maintenance("deleteBatch.php", "--u", admin, stdin=title)
    run_events(rig, title, since)
    assert active(rig, page_id) == {}
    reasons = {row[3] for row in ledger_rows(rig, page_id) if row[2] < 0}
    assert reasons == {"page deleted"}

    since = rig.wiki.latest_cursor()
    wiki.sandbox.run_maintenance("undelete.php", "--user", admin, title)
    run_events(rig, title, since)
    assert active(rig, page_id) == {("page_created", a): 3.0, ("wiki_text", a): 0.10}
    before = ledger_rows(rig, page_id)
    run_events(rig, title, start)  # the delete again: the page exists, nothing cancelled
    assert ledger_rows(rig, page_id) == before


def test_a_moved_page_keeps_its_credit_and_the_mover_gets_none(rig: SyncRig) -> None:
    wiki = rig.session_wiki
    a, admin = wiki.sandbox.human_username, wiki.sandbox.admin_username
    title = wiki.title("Credit moved")
    start = rig.wiki.latest_cursor()
    edit_as(wiki, a, title, TEN)
    run_events(rig, title, start)
    page_id = rig.wiki.read_pages([title])[title].pageid
    assert page_id is not None
    before = ledger_rows(rig, page_id)

    since = rig.wiki.latest_cursor()
    wiki.sandbox.run_maintenance("moveBatch.php", "--u", admin, stdin=f"{title}|{title} new\n")
    assert run_events(rig, title, since) == 1  # the move log entry, under the old title

    assert ledger_rows(rig, page_id) == before
    with rig.store.session() as session:
        row = session.get(WikiAuthorship, page_id)
        assert row is not None and row.title == f"{title} new"
        assert surviving_tokens(row.state) == {a: 10}


def test_the_handler_runs_for_wiki_page_events() -> None:
    for kind in ("wiki.edit", "wiki.new", "wiki.move", "wiki.delete", "wiki.restore"):
        assert credit_wiki_change in handlers_for(kind)
    assert credit_wiki_change in handlers_for("wiki.reconcile")


def test_anonymous_editors_get_no_credit_and_no_person(rig: SyncRig) -> None:
    wiki = rig.session_wiki
    a = wiki.sandbox.human_username
    title = wiki.title("Credit anonymous")
    start = rig.wiki.latest_cursor()
    edit_anonymously(wiki, title, TEN)  # the page is created by an IP address
    edit_as(wiki, a, title, B_TEXT)
    [first, _] = rig.wiki.revisions(title)
    assert first.anon and first.user is not None
    run_events(rig, title, start)
    page_id = rig.wiki.read_pages([title])[title].pageid
    assert page_id is not None
    # A's ten tokens count; the anonymous creator's six surviving words and the page's
    # creation credit no one.
    assert active(rig, page_id) == {("wiki_text", a): 0.10}
    with rig.store.session() as session:
        accounts = session.scalars(select(Account.username).where(Account.platform == "wiki"))
        assert first.user not in set(accounts)
