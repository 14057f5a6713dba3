"""Adoption of practices across organisations: from the page's template and from the
"adopt" action, against the real wiki and forum sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.bot_section import BEGIN
from community.constellations.models import open_issues
from community.credits import ledger
from community.credits.models import CreditEntry
from community.partners.models import Partner
from community.practices.adopters import adoption_lines
from community.practices.adoption import (
    AdoptionError,
    add_to_template,
    adopt,
    sync_template_adoptions,
)
from community.practices.cli import practices as practices_command
from community.practices.models import Practice, PracticeAdoption
from community.practices.page import parse_practice
from community.practices.registry import sync_practice_page
from core import inbox
from core.clock import system_clock
from core.config import CONFIG_PATH_VAR
from core.event_kinds import BADGES_DUE, PRACTICE_ADOPTED
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from service.worker import Worker
from tests.community.constellations.sync_support import PARTNERS, SyncRig
from tests.community.test_practice_candidates import write_config
from tests.conftest import SessionForum, SessionWiki
from webhooks.incoming.wiki_events import change_event

ORIGIN = "Harbour Food Bank"
OTHER = "North Pantry"


def practice_text(adopted_by: str = "") -> str:
    return (
        "Text a person wrote above.\n"
        "{{Practice\n"
        "| summary = Partners share one win and one blocker each week\n"
        f"| originating_organisation = {ORIGIN}\n"
        f"| adopted_by = {adopted_by}\n"
        "| related_constellations = \n"
        "}}\n"
        "== How it works ==\nText a person wrote below.\n"
    )


def make_practice(rig: SyncRig, adopted_by: str = "") -> str:
    title = rig.session_wiki.title("Weekly win call")
    rig.session_wiki.human().edit(title, practice_text(adopted_by), summary="new", mode="create")
    assert sync(rig, title) == "created"
    return title


def sync(rig: SyncRig, title: str) -> str:
    page = rig.wiki.read_pages([title])[title]
    with rig.store.session() as session:
        return sync_practice_page(session, rig.wiki, rig.forum, rig.settings, page)


def human_edit(rig: SyncRig, title: str, old: str, new: str) -> None:
    human = rig.session_wiki.human()
    page = human.read_pages([title])[title]
    assert old in page.text
    human.edit(title, page.text.replace(old, new, 1), summary="adoption", base=page)


def adoptions(session: Session, title: str) -> dict[str, PracticeAdoption]:
    practice = session.scalars(select(Practice).where(Practice.title == title)).one()
    rows = session.scalars(
        select(PracticeAdoption).where(PracticeAdoption.page_id == practice.page_id)
    )
    return {row.organisation: row for row in rows}


def adopted_events(session: Session) -> list[InboxEvent]:
    query = select(InboxEvent).where(InboxEvent.kind == PRACTICE_ADOPTED)
    return list(session.scalars(query.order_by(InboxEvent.id)))


# -- tests --------------------------------------------------------------------------------


def test_adoption_in_the_template_by_another_organisation_is_one_event(rig: SyncRig) -> None:
    human_name = rig.session_wiki.sandbox.human_username
    title = make_practice(rig)
    human_edit(rig, title, "| adopted_by = \n", f"| adopted_by = {OTHER}\n")
    page = rig.wiki.read_pages([title])[title]  # the revision that names the adopter

    sync(rig, title)
    sync(rig, title)  # a replay of the same page

    with rig.store.session() as session:
        rows = adoptions(session, title)
        assert list(rows) == [OTHER]
        row = rows[OTHER]
        assert (row.source, row.revid, row.withdrawn_at) == ("template", page.revid, None)
        [event] = adopted_events(session)
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
        assert event.event_id == f"community:practice_adopted:{practice.page_id}:north pantry"
        assert (event.source, event.subject) == ("community", f"practice:{practice.page_id}")
        assert event.actor == human_name
        assert event.payload == {
            "page_id": practice.page_id,
            "title": title,
            "tag": practice.tag,
            "organisation": OTHER,
            "originating_organisation": ORIGIN,
            "author": human_name,
            "author_platform": "wiki",
            "source": "template",
            "revid": page.revid,
        }

    # The originating organisation listing itself is no event; removing one withdraws it.
    human_edit(rig, title, f"| adopted_by = {OTHER}\n", f"| adopted_by = {ORIGIN}\n")
    sync(rig, title)
    with rig.store.session() as session:
        rows = adoptions(session, title)
        assert sorted(rows) == [ORIGIN, OTHER]
        assert rows[ORIGIN].withdrawn_at is None and rows[OTHER].withdrawn_at is not None
        assert len(adopted_events(session)) == 1
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
        assert adoption_lines(session, rig.settings, practice) == [
            "=== Adopted by ===",
            "* Not adopted elsewhere yet.",
        ]


def test_the_worker_credits_the_author_when_a_second_organisation_adopts(
    rig: SyncRig,
) -> None:
    """A person of another organisation lists it in ``adopted_by`` on the real wiki; the
    worker, with the real dispatch table, handles the wiki change and then the adoption
    event it records: the practice's author is credited, once however often replayed."""
    author, adopter = (
        rig.session_wiki.sandbox.human_username,
        rig.session_wiki.sandbox.admin_username,
    )
    title = make_practice(rig)
    since = rig.wiki.latest_cursor()
    page = rig.wiki.read_pages([title])[title]
    text = page.text.replace("| adopted_by = \n", f"| adopted_by = {OTHER}\n", 1)
    rig.session_wiki.sandbox.run_maintenance(
        "edit.php", "--user", adopter, "--summary", "we adopted it", title, stdin=text
    )
    with rig.store.session() as session:
        for change in rig.wiki.recent_changes(since):
            if change.title == title:
                inbox.record(session, change_event(change))
    worker = Worker(rig.store, rig.settings)

    def work() -> list[tuple[str, str]]:
        for _ in range(20):
            if not worker.run_once():
                break
        with rig.store.session() as session:
            rows = session.scalars(select(InboxEvent).order_by(InboxEvent.id))
            return [(row.kind, row.state) for row in rows]

    # The adoption may earn a badge: the badges run follows at once.
    assert work() == [("wiki.edit", "done"), (PRACTICE_ADOPTED, "done"), (BADGES_DUE, "done")]
    with rig.store.session() as session:
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
        credited = [
            (e.account, e.ref, e.weight)
            for e in ledger.active_entries(session, kind="practice_adopted")
        ]
        assert credited == [(author, "adoption:north pantry", 15.0)]
        assert credited[0][0] == practice.author
        before = session.scalar(select(func.count()).select_from(CreditEntry))
        for row in session.scalars(select(InboxEvent)):
            inbox.replay(session, row.id, now=system_clock())
    # Replayed, the adoption asks again for badges: one run at the next interval's start.
    assert work() == [
        ("wiki.edit", "done"),
        (PRACTICE_ADOPTED, "done"),
        (BADGES_DUE, "done"),
        (BADGES_DUE, "pending"),
    ]
    with rig.store.session() as session:
        assert session.scalar(select(func.count()).select_from(CreditEntry)) == before


def test_the_adopt_action_lists_the_organisation_on_the_page_once(rig: SyncRig) -> None:
    title = make_practice(rig, adopted_by="City Kitchen")
    before = rig.wiki.read_pages([title])[title].text
    with rig.store.session() as session:
        state = adopt(
            session,
            rig.wiki,
            rig.settings,
            practice_title=title,
            organisation=f"  {OTHER} ",
            actor="elif_arslan",
        )
    assert state == "adopted"
    after = rig.wiki.read_pages([title])[title]
    # Outside our section the page changed only by the name added to the template.
    outside = after.text[: after.text.index(BEGIN)]
    assert (
        outside.replace(f"City Kitchen, {OTHER}", "City Kitchen") == before[: before.index(BEGIN)]
    )
    assert f"* {OTHER} (since " in after.text[after.text.index(BEGIN) :]
    template_edit = [r for r in rig.wiki.revisions(title) if r.user == rig.wiki.username][-2]
    parsed = parse_practice(title, after.text)
    assert parsed is not None and parsed.adopted_by == ("City Kitchen", OTHER)
    with rig.store.session() as session:
        row = adoptions(session, title)[OTHER]
        assert (row.source, row.actor, row.revid) == ("action", "elif_arslan", template_edit.revid)
        [city, pantry] = adopted_events(session)
        assert (city.payload["organisation"], city.payload["source"]) == (
            "City Kitchen",
            "template",
        )
        assert (pantry.actor, pantry.payload["source"]) == ("elif_arslan", "action")

    # Again, in other case and spacing: nothing written, no event.
    writes = rig.writes()
    with rig.store.session() as session:
        again = adopt(
            session,
            rig.wiki,
            rig.settings,
            practice_title=title,
            organisation="north   PANTRY",
            actor="someone_else",
        )
        assert again == "already adopted"
        assert len(adopted_events(session)) == 2
    assert rig.writes() == writes
    # The template edited without it: an adoption made by the action stays.
    human_edit(rig, title, f"City Kitchen, {OTHER}", "City Kitchen")
    sync(rig, title)
    with rig.store.session() as session:
        assert adoptions(session, title)[OTHER].withdrawn_at is None
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
        lines = adoption_lines(session, rig.settings, practice)
    today = datetime.now(UTC).date().isoformat()
    assert lines == [
        "=== Adopted by ===",
        f"* City Kitchen (since {today})",
        f"* North Pantry (since {today})",
    ]


def test_adopt_refuses_unknown_practices_and_listed_names(rig: SyncRig) -> None:
    title = make_practice(rig)
    with rig.store.session() as session:
        with pytest.raises(AdoptionError, match="no practice page with this title is known"):
            adopt(
                session,
                rig.wiki,
                rig.settings,
                practice_title="No such practice",
                organisation=OTHER,
                actor=None,
            )
        with pytest.raises(AdoptionError, match="one name, without commas"):
            adopt(
                session,
                rig.wiki,
                rig.settings,
                practice_title=title,
                organisation="North Pantry, City Kitchen",
                actor=None,
            )
        assert adopted_events(session) == []


def test_template_adoptions_compare_names_loosely_and_replays_add_nothing(
    store_url: str,
) -> None:
    upgrade(store_url)
    store = Store(store_url)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        with store.session() as session:
            practice = Practice(
                page_id=77,
                title="Seed swap",
                tag="seed-swap",
                originating_organisation="Harbour  Food Bank",
                revid=1,
                author="ana",
                author_platform="forum",
            )
            session.add(practice)
            session.flush()
            for group, name in PARTNERS.items():
                session.add(Partner(group_name=group, name=name))
            session.flush()
            new = sync_template_adoptions(
                session,
                practice,
                ["harbour food bank", "North Pantry", " north  pantry "],
                revid=2,
                at=at,
                actor="ben",
            )
            # Stored by the partner's name, however the page wrote it.
            assert [row.organisation for row in new] == ["Harbour Food Bank", "North Pantry"]
            assert [e.actor for e in adopted_events(session)] == ["ben"]  # not the originator

            replay = sync_template_adoptions(
                session, practice, ["NORTH PANTRY", "Harbour Food Bank"], revid=2, at=at, actor="b"
            )
            assert replay == []
            later = at + timedelta(days=1)
            assert (
                sync_template_adoptions(session, practice, [], revid=3, at=later, actor="c") == []
            )
            rows = {row.organisation: row for row in session.scalars(select(PracticeAdoption))}
            assert {name: row.withdrawn_at for name, row in rows.items()} == {
                "Harbour Food Bank": later,
                "North Pantry": later,
            }
            # Listed again: it stands again; no new adoption row, but a new event (of
            # this revision, so a replay of it adds none), and it is credited again.
            for _ in range(2):
                back = sync_template_adoptions(
                    session, practice, ["North Pantry"], revid=4, at=later, actor="d"
                )
                assert back == [] and rows["North Pantry"].withdrawn_at is None
            assert [e.event_id for e in adopted_events(session)] == [
                "community:practice_adopted:77:north pantry",
                "community:practice_adopted:77:north pantry:again:4",
            ]
    finally:
        store.dispose()


def test_add_to_template_keeps_the_page_and_escapes_the_name() -> None:
    text = "Intro.\n{{practice\n|summary=S\n|originating_organisation=A\n|adopted_by= B \n}}\nEnd."
    assert add_to_template("P", text, "C''s ~~~~") == (
        "Intro.\n{{practice\n|summary=S\n|originating_organisation=A\n"
        "|adopted_by= B, C&#39;&#39;s &#126;&#126;&#126;&#126; \n}}\nEnd."
    )
    assert add_to_template("P", text, " b") is None  # listed already (any case)
    missing = "{{Practice|summary=S|originating_organisation=A}}"
    assert add_to_template("P", missing, "C") == (
        "{{Practice|summary=S|originating_organisation=A|adopted_by=C}}"
    )
    with pytest.raises(AdoptionError, match="the page has no"):
        add_to_template("P", "No template here.", "C")


@pytest.fixture
def sqlite_rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def test_the_adopt_command(
    sqlite_rig: SyncRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = sqlite_rig
    title = make_practice(rig)
    monkeypatch.setenv(CONFIG_PATH_VAR, str(write_config(rig, tmp_path)))
    runner = CliRunner()

    done = runner.invoke(practices_command, ["adopt", title, OTHER, "--by", "elif_arslan"])

    assert done.exit_code == 0, done.output
    assert done.output == f"{title}: {OTHER}: adopted\n"
    again = runner.invoke(practices_command, ["adopt", title, OTHER])
    assert again.output == f"{title}: {OTHER}: already adopted\n"
    unknown = runner.invoke(practices_command, ["adopt", "Nothing here", OTHER])
    assert unknown.exit_code == 1
    assert "Error: practice 'Nothing here': no practice page with this title is known" in (
        unknown.output
    )
    with rig.store.session() as session:
        assert [e.actor for e in adopted_events(session)] == ["elif_arslan"]


def test_adopters_are_registered_partners_named_any_of_their_ways(rig: SyncRig) -> None:
    # "north-pantry" is North Pantry's forum group; the guild has no partner page.
    title = make_practice(rig, adopted_by="north-pantry, Translators Guild")
    with rig.store.session() as session:
        assert sorted(adoptions(session, title)) == [OTHER]
        [issue] = [i for i in open_issues(session) if i.wiki_title == title]
        assert (issue.kind, issue.field) == ("unknown_partner", "adopted_by")
        assert "'Translators Guild' is not a registered partner" in issue.detail
        with pytest.raises(AdoptionError, match="'Translators Guild': not a registered partner"):
            adopt(
                session,
                rig.wiki,
                rig.settings,
                practice_title=title,
                organisation="Translators Guild",
                actor="ana",
            )
    # The originating partner listed by its group adopts nothing of its own: no event.
    human_edit(
        rig,
        title,
        "| adopted_by = north-pantry, Translators Guild\n",
        "| adopted_by = harbour-food\n",
    )
    sync(rig, title)
    with rig.store.session() as session:
        assert [e.payload["organisation"] for e in adopted_events(session)] == [OTHER]
        assert [i for i in open_issues(session) if i.wiki_title == title] == []
