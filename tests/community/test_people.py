"""People: link suggestions from the real wiki's and forum's accounts, a moderator's
decisions, DiscourseConnect logins from the sandbox's provider, organisations, opt-out."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import ledger, people
from community.credits.ledger import Contribution
from community.credits.models import Account, LinkSuggestion, Person
from connectors.discourse.connect import connect_request, verified_connect_payload
from core.errors import PermissionDenied
from tests.community.sync_support import SyncRig
from tests.conftest import SessionForum, SessionWiki

CONNECT_SECRET = "connect-secret-" + "z" * 20
RETURN_URL = "https://dashboard.example.org/discourse/callback"


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> SyncRig:
    return SyncRig(wiki, forum, tmp_path)


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
            (f"Rowan{tag}", f"rowan{tag}"): ["same username", "same e-mail"],
            (f"Kit{tag}", f"kz{tag}"): ["same e-mail"],
            (f"Dale{tag}", f"dale{tag}"): ["same username", "same e-mail"],
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


def connect_login(rig: SyncRig, forum: SessionForum, username: str) -> tuple[str, str]:
    """A real DiscourseConnect round trip with the sandbox's provider: (sso, sig)."""
    rig.forum.site_settings(
        enable_discourse_connect_provider="true",
        discourse_connect_provider_secrets=f"dashboard.example.org|{CONNECT_SECRET}",
    )
    browser = requests.Session()
    answer = browser.get(
        f"{forum.url}/session/sandbox-login", params={"username": username}, timeout=10
    )
    assert answer.status_code == 200
    query = connect_request(CONNECT_SECRET, nonce=secrets.token_hex(16), return_url=RETURN_URL)
    answer = browser.get(
        f"{forum.url}/session/sso_provider?{query}", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    fields = parse_qs(urlsplit(answer.headers["Location"]).query)
    return fields["sso"][0], fields["sig"][0]


def test_a_discourse_connect_login_suggests_a_link(
    rig: SyncRig, wiki: SessionWiki, forum: SessionForum
) -> None:
    tag = uuid.uuid4().hex[:8]
    wiki_user(wiki, f"Wren{tag}")
    forum_user(rig, f"wr{tag}", name=f"Wren{tag}", email=f"wr{tag}@example.net")
    sso, sig = connect_login(rig, forum, f"wr{tag}")
    with pytest.raises(PermissionDenied, match="rejected"):
        verified_connect_payload(sso, sig[:-1] + ("0" if sig[-1] != "0" else "1"), CONNECT_SECRET)
    with pytest.raises(PermissionDenied, match="rejected"):
        verified_connect_payload(sso, sig, "another-secret-entirely")
    fields = verified_connect_payload(sso, sig, CONNECT_SECRET)
    with rig.store.session() as session:
        login = people.record_connect_login(session, fields)
        assert (login.forum_username, login.name, login.email) == (
            f"wr{tag}",
            f"Wren{tag}",
            f"wr{tag}@example.net",
        )
        forum_account = session.scalars(select(Account).where(Account.username == f"wr{tag}")).one()
        assert forum_account.external_id == fields["external_id"]
        found = mine(people.suggest_links(session, rig.wiki, rig.forum), tag)
        assert found == {(f"Wren{tag}", f"wr{tag}"): ["same e-mail", "DiscourseConnect login"]}
        with pytest.raises(people.PeopleError, match="missing external_id"):
            people.record_connect_login(session, {"username": "x"})


def test_organisations_opt_out_and_naming_people(rig: SyncRig, forum: SessionForum) -> None:
    tag = uuid.uuid4().hex[:8]
    forum_user(rig, f"org{tag}", name="Ola Org")
    forum_user(rig, f"mod{tag}")
    group = rig.forum.create_group(f"g{tag}", full_name=f"Harbour Food Bank {tag}")
    rig.forum.add_group_members(group, [f"org{tag}", f"mod{tag}"])
    with rig.store.session() as session:
        assert people.refresh_forum_people(session, rig.forum) >= 2
        ola = people.find_person(session, f"org{tag}")
        assert (ola.name, ola.organisation, ola.organisation_source) == (
            "Ola Org",
            f"Harbour Food Bank {tag}",
            "forum_group",
        )
        moderated = people.find_person(session, f"forum:mod{tag}")
        people.set_organisation(session, moderated, "North Pantry", "mod")
        people.refresh_forum_people(session, rig.forum)
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
