"""People: link suggestions from the real wiki's and forum's accounts, a moderator's
decisions, DiscourseConnect logins from the sandbox's provider, organisations, opt-out."""

from __future__ import annotations

import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import ledger, people
from community.credits.ledger import Contribution
from community.credits.models import Account, ConnectLogin, ConnectNonce, LinkSuggestion, Person
from community.partners.affiliation import refresh_affiliations
from community.partners.models import Partner
from connectors.discourse.connect import connect_request, verified_connect_payload
from core.errors import PermissionDenied
from dashboards.connect_views import CALLBACK_PATH
from service.app import create_app
from tests.community.conftest import CONNECT_HOST, CONNECT_SECRET
from tests.community.constellations.sync_support import SyncRig
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> SyncRig:
    return SyncRig(wiki, forum, tmp_path)


EMAIL_NAME = "e-mail name matches the wiki username"


def wiki_user(wiki: SessionWiki, name: str) -> None:
    wiki.sandbox.run_maintenance("createAndPromote.php", name, uuid.uuid4().hex)


def forum_user(rig: SyncRig, username: str, *, name: str = "", email: str = "") -> None:
    rig.forum.create_user(username, name or username, email or f"{username}@example.com")


def person_of(session: Session, platform: str, username: str) -> int:
    account = session.scalars(
        select(Account).where(Account.platform == platform, Account.username == username)
    ).one()
    return account.person_id


def mine(suggestions: list[LinkSuggestion], tag: str) -> dict[tuple[str, str], list[str]]:
    return {
        (s.wiki_username, s.forum_username): list(s.reasons)
        for s in suggestions
        if tag in s.wiki_username.casefold()
    }


def test_suggest_link_reject_unlink(rig: SyncRig, wiki: SessionWiki) -> None:
    tag = uuid.uuid4().hex[:8]
    wiki_user(wiki, f"Rowan{tag}")
    wiki_user(wiki, f"Kit{tag}")
    wiki_user(wiki, f"Dale{tag}")
    forum_user(rig, f"rowan{tag}")
    forum_user(rig, f"kz{tag}", email=f"Kit.{tag}@example.org")  # e-mail local part = name
    forum_user(rig, f"dale{tag}")
    forum_user(rig, f"nobody{tag}")  # matches no wiki account
    with rig.store.session() as session:
        found = mine(people.suggest_links(session, rig.wiki, rig.forum), tag)
        assert found == {
            (f"Rowan{tag}", f"rowan{tag}"): ["same username", EMAIL_NAME],
            (f"Kit{tag}", f"kz{tag}"): [EMAIL_NAME],
            (f"Dale{tag}", f"dale{tag}"): ["same username", EMAIL_NAME],
        }
        # Nothing is merged by a suggestion: every account still has its own person.
        persons = {person_of(session, "forum", f"{n}{tag}") for n in ("rowan", "kz", "dale")}
        assert len(persons) == 3
        assert session.scalars(
            select(Account).where(Account.platform == "wiki", Account.username == f"Rowan{tag}")
        ).first() is None  # fmt: skip

        by_pair = {
            (s.wiki_username, s.forum_username): s.id for s in people.open_suggestions(session)
        }
        rowan = people.link(session, by_pair[(f"Rowan{tag}", f"rowan{tag}")], "mod")
        assert (rowan.state, rowan.decided_by) == ("linked", "mod")
        assert person_of(session, "wiki", f"Rowan{tag}") == person_of(
            session, "forum", f"rowan{tag}"
        )
        dale = people.reject(session, (f"Dale{tag}", f"dale{tag}"), "mod")
        assert dale.state == "rejected"
        with pytest.raises(people.PeopleError, match="unlink one of them first"):
            people.reject(session, rowan.id, "mod")

        # Linked accounts' ledger rows count for one person.
        when = datetime(2030, 1, 1, tzinfo=UTC)
        for platform, account, obj in (
            ("wiki", f"Rowan{tag}", "page:1"),
            ("forum", f"rowan{tag}", "post:1"),
        ):
            ledger.credit(session, Contribution(
                platform=platform, account=account, kind="forum_reply", object=obj, ref="1",
                weight=2.0, occurred_at=when, rule="forum_reply",
            ))  # fmt: skip
        person = people.find_person(session, f"forum:rowan{tag}")
        names = {a.username for a in people.accounts_of(session, person)}
        assert names == {f"Rowan{tag}", f"rowan{tag}"}
        assert sum(e.weight for a in names for e in ledger.active_entries(session, account=a)) == 4

        # Suggesting again: nothing new for linked, rejected or already open pairs.
        assert mine(people.suggest_links(session, rig.wiki, rig.forum), tag) == {}

        unlinked = people.unlink(session, "wiki", f"Rowan{tag}", "mod")
        assert unlinked.person_id != person_of(session, "forum", f"rowan{tag}")
        assert session.get_one(LinkSuggestion, rowan.id).state == "rejected"
        with pytest.raises(people.PeopleError, match="not linked"):
            people.unlink(session, "wiki", f"Rowan{tag}", "mod")
        assert mine(people.suggest_links(session, rig.wiki, rig.forum), tag) == {}

        # A moderator may link a pair that was never suggested.
        people.link(session, (f"Kit{tag}", f"dale{tag}"), "mod")
        assert person_of(session, "wiki", f"Kit{tag}") == person_of(session, "forum", f"dale{tag}")


def forum_browser(forum: SessionForum, username: str) -> requests.Session:
    """A browser logged in on the sandbox forum as ``username``."""
    browser = requests.Session()
    answer = browser.get(
        f"{forum.url}/session/sandbox-login", params={"username": username}, timeout=10
    )
    assert answer.status_code == 200
    return browser


def start(client: FlaskClient, forum: SessionForum, wiki_name: str) -> str:
    """GET /people/connect: the redirect to the forum's provider."""
    answer = client.get("/people/connect", query_string={"wiki": wiki_name})
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(f"{forum.url}/session/sso_provider?sso=")
    return location


def forum_answer(browser: requests.Session, provider_url: str) -> str:
    """The forum's redirect back to the callback: its path and query on the service."""
    answer = browser.get(provider_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("https", CONNECT_HOST, CALLBACK_PATH)
    return f"{back.path}?{back.query}"


def test_linking_accounts_through_a_discourse_connect_login(
    linking: tuple[SyncRig, Flask], wiki: SessionWiki, forum: SessionForum
) -> None:
    rig, app = linking
    tag = uuid.uuid4().hex[:8]
    wiki_user(wiki, f"Wren {tag}")
    forum_user(rig, f"wr{tag}", name=f"Wren {tag}", email=f"wr{tag}@example.net")
    client = app.test_client()
    browser = forum_browser(forum, f"wr{tag}")

    # The person types their wiki name loosely; the wiki's spelling is kept.
    callback = forum_answer(browser, start(client, forum, f"wren_{tag}"))
    forged = callback[:-1] + ("0" if callback[-1] != "0" else "1")
    refused = client.get(forged)
    assert refused.status_code == 403
    assert "signature does not match" in refused.text

    done = client.get(callback)  # the genuine answer still counts after a forged one
    assert done.status_code == 200, done.text
    assert done.headers["Content-Type"].startswith("text/html")
    assert "A moderator will review the link" in done.text
    assert f"wiki account Wren {tag} and the forum account wr{tag}" in done.text
    with rig.store.session() as session:
        suggestions = {
            (s.wiki_username, s.forum_username): (s.reasons, s.state)
            for s in session.scalars(
                select(LinkSuggestion).where(LinkSuggestion.forum_username == f"wr{tag}")
            )
        }
        assert suggestions == {(f"Wren {tag}", f"wr{tag}"): (["DiscourseConnect login"], "open")}
        login = session.scalars(
            select(ConnectLogin).where(ConnectLogin.forum_username == f"wr{tag}")
        ).one()
        assert (login.wiki_username, login.email) == (f"Wren {tag}", f"wr{tag}@example.net")
        forum_account = session.scalars(select(Account).where(Account.username == f"wr{tag}")).one()
        assert forum_account.external_id == login.external_id
        # A suggestion only: the accounts are still two people.
        assert session.scalars(
            select(Account).where(Account.platform == "wiki", Account.username == f"Wren {tag}")
        ).first() is None  # fmt: skip

    replayed = client.get(callback)
    assert replayed.status_code == 403
    assert "already used" in replayed.text

    # A second login updates the one row: now claiming a wiki name nobody has.
    again = client.get(forum_answer(browser, start(client, forum, f"Nobody & {tag}")))
    assert again.status_code == 200, again.text
    assert f"the wiki has no account named Nobody &amp; {tag} " in again.text
    with rig.store.session() as session:
        logins = list(
            session.scalars(
                select(ConnectLogin).where(ConnectLogin.external_id == login.external_id)
            )
        )
        assert [row.wiki_username for row in logins] == [f"Nobody & {tag}"]
        assert session.scalars(
            select(LinkSuggestion).where(LinkSuggestion.wiki_username == f"Nobody & {tag}")
        ).first() is None  # fmt: skip


def test_an_expired_unknown_or_foreign_nonce_is_refused(
    linking: tuple[SyncRig, Flask], forum: SessionForum
) -> None:
    rig, app = linking
    tag = uuid.uuid4().hex[:8]
    forum_user(rig, f"late{tag}")
    browser = forum_browser(forum, f"late{tag}")
    client = app.test_client()

    callback = forum_answer(browser, start(client, forum, f"Late{tag}"))
    with rig.store.session() as session:
        nonce = session.scalars(
            select(ConnectNonce).where(ConnectNonce.wiki_username == f"Late{tag}")
        ).one()
        assert len(nonce.nonce) >= 43  # 32 random bytes, URL-safe base64
        nonce.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = client.get(callback)
    assert (expired.status_code, "nonce expired" in expired.text) == (403, True)

    # Signed by the forum, but for a nonce this service never issued.
    stray = connect_request(
        CONNECT_SECRET,
        nonce=secrets.token_urlsafe(32),
        return_url=f"https://{CONNECT_HOST}{CALLBACK_PATH}",
    )
    unknown = client.get(forum_answer(browser, f"{forum.url}/session/sso_provider?{stray}"))
    assert (unknown.status_code, "not issued here" in unknown.text) == (403, True)

    # Started in one browser, answered in another (a lured login): refused, and used up.
    callback = forum_answer(browser, start(client, forum, f"Late{tag}"))
    elsewhere = app.test_client().get(callback)
    assert (elsewhere.status_code, "another browser" in elsewhere.text) == (403, True)
    assert "already used" in client.get(callback).text
    with rig.store.session() as session:
        assert session.scalars(
            select(ConnectLogin).where(ConnectLogin.forum_username == f"late{tag}")
        ).first() is None  # fmt: skip

    bad_name = client.get("/people/connect", query_string={"wiki": "a|b"})
    assert (bad_name.status_code, "cannot have" in bad_name.text) == (400, True)
    assert client.get("/people/connect").status_code == 400


def test_racing_answers_use_a_nonce_once(linking: tuple[SyncRig, Flask]) -> None:
    rig, _ = linking
    with rig.store.session() as session:
        nonce = people.start_connect_login(session, "ana")
    barrier = threading.Barrier(4)

    def claim() -> str:
        barrier.wait()
        try:
            with rig.store.session() as session:
                return people.claim_connect_nonce(session, nonce)
        except PermissionDenied as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = sorted(pool.map(lambda _: claim(), range(4)))
    assert answers[0] == "Ana"
    assert all("already used" in answer for answer in answers[1:]), answers


def test_linking_is_off_without_a_connect_secret(rig: SyncRig) -> None:
    app = create_app(rig.settings)
    client = app.test_client()
    for path in ("/people/connect?wiki=Ana", f"{CALLBACK_PATH}?sso=x&sig=y"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert "not configured" in answer.text


def test_connect_answers_are_checked_before_use() -> None:
    query = connect_request(CONNECT_SECRET, nonce="n-1", return_url="https://a.example/cb")
    fields = parse_qs(query)
    sso, sig = fields["sso"][0], fields["sig"][0]
    assert verified_connect_payload(sso, sig, CONNECT_SECRET)["nonce"] == "n-1"
    assert verified_connect_payload(sso, sig.upper(), CONNECT_SECRET)["nonce"] == "n-1"
    for args, why in (
        ((sso, sig, "another-secret-entirely"), "signature does not match"),
        ((sso, "", CONNECT_SECRET), "missing"),
        ((sso, sig, ""), "no DiscourseConnect secret"),
    ):
        with pytest.raises(PermissionDenied, match=why):
            verified_connect_payload(*args)
    no_nonce = connect_request(CONNECT_SECRET, nonce="", return_url="https://a.example/cb")
    fields = parse_qs(no_nonce)
    with pytest.raises(PermissionDenied, match="no nonce"):
        verified_connect_payload(fields["sso"][0], fields["sig"][0], CONNECT_SECRET)


def test_recording_a_login_needs_the_forum_account(rig: SyncRig) -> None:
    with rig.store.session() as session:
        with pytest.raises(people.PeopleError, match="missing external_id"):
            people.record_connect_login(session, {"username": "x"}, "Ana")
        with pytest.raises(people.PeopleError, match="wiki username: empty"):
            people.record_connect_login(session, {"username": "x", "external_id": "9"}, " _ ")


def test_organisations_opt_out_and_naming_people(rig: SyncRig, forum: SessionForum) -> None:
    tag = uuid.uuid4().hex[:8]
    forum_user(rig, f"org{tag}", name="Ola Org")
    forum_user(rig, f"mod{tag}")
    group = rig.forum.create_group(f"g{tag}", full_name=f"Harbour Food Bank {tag}")
    rig.forum.add_group_members(group, [f"org{tag}", f"mod{tag}"])
    with rig.store.session() as session:  # the group is a registered partner's
        session.add(
            Partner(group_name=group.name, name=f"Harbour Food Bank {tag}", group_id=group.id)
        )
    with rig.store.session() as session:
        assert people.refresh_forum_people(session, rig.forum) >= 2
        refresh_affiliations(session, rig.forum)
        ola = people.find_person(session, f"org{tag}")
        assert (ola.name, ola.organisation, ola.organisation_source) == (
            "Ola Org",
            f"Harbour Food Bank {tag}",
            "forum_group",
        )
        moderated = people.find_person(session, f"forum:mod{tag}")
        people.set_organisation(session, moderated, "north pantry", "mod")
        refresh_affiliations(session, rig.forum)
        assert (moderated.organisation, moderated.organisation_source) == (
            "North Pantry",
            "moderator",
        )
        assert people.find_person(session, str(ola.id)) is ola
        people.set_opt_out(session, ola, True)
        assert session.get_one(Person, ola.id).opted_out is True
        with pytest.raises(people.PeopleError, match="no account"):
            people.find_person(session, f"ghost{tag}")
        with pytest.raises(people.PeopleError, match="no such person id"):
            people.find_person(session, "987654321")
        with pytest.raises(people.PeopleError, match="expected 1 to 255"):
            people.set_organisation(session, ola, "  ", "mod")
        with pytest.raises(people.PeopleError, match="'Translators': not a registered partner"):
            people.set_organisation(session, ola, "Translators", "mod")
