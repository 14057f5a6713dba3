"""Reversible identity links on both stores, with credit from the real wiki and the forum
sandbox: linking moves an account's ledger rows and totals to the person it joins,
unlinking puts the leaderboard back exactly as it was before the link, relinking moves
them again, and every decision is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from community.credits import export, people
from community.credits.forum_credit import credit_reply
from community.credits.models import IdentityDecision
from community.credits.wiki_credit import update_page_credit
from dashboards import people_queries
from tests.community.constellations.sync_support import SyncRig
from tests.community.test_wiki_credit import edit_as, make_account

BODY = "A reply long enough for the forum's minimum, number"


def boards(rig: SyncRig) -> tuple[Any, ...]:
    """The leaderboard as the dashboard and the exports read it, opted-out count included."""
    with rig.store.session() as session:
        page = people_queries.leaderboard(session, page=1, page_size=50)
        return (
            page.rows,
            page.opted_out,
            export.person_credits(session),
            export.export_csv(session),
        )


def test_link_unlink_relink_move_credit_and_unlink_restores_the_leaderboard(rig: SyncRig) -> None:
    forum, names, wiki = rig.forum, rig.session_forum.name, rig.session_wiki
    asker, ana, ben = names("la"), names("ln"), names("lb")
    for username in (asker, ana, ben):
        forum.create_user(username, username.title(), f"{username}@example.org")
    ana_wiki, shy_wiki = make_account(wiki, "Link Ana"), make_account(wiki, "Link Shy")
    made = forum.acting_as(asker).create_topic(
        f"Links {names('')}", BODY + " zero.", category_id=None, external_id=names("x")
    )
    posts = [forum.acting_as(ana).reply(made.topic_id, f"{BODY} {n}.") for n in "ab"]
    posts.append(forum.acting_as(ben).reply(made.topic_id, f"{BODY} c."))
    title = wiki.title("Link page")
    edit_as(wiki, ana_wiki, title, "one two three four five six seven eight nine ten")
    edit_as(wiki, shy_wiki, title, "one two three four five six seven eight nine ten shy words")
    with rig.store.session() as session:
        for post in posts:
            credit_reply(session, rig.settings, post.data, at=datetime.now(UTC))
        update_page_credit(session, rig.wiki, rig.settings, title=title)
        people.set_organisation(
            session, people.find_person(session, f"forum:{ana}"), "North Pantry", "mod"
        )
        ana_wiki_person = people.find_person(session, f"wiki:{ana_wiki}")
        people.set_organisation(session, ana_wiki_person, "Harbour Food Bank", "mod")
        people.set_opt_out(session, people.find_person(session, f"wiki:{shy_wiki}"), True)
        session.commit()
    before = boards(rig)

    # Linked: the wiki account's rows and totals count for ana's person.
    with rig.store.session() as session:
        wiki_person = people.find_person(session, f"wiki:{ana_wiki}").id
        people.link(session, (ana_wiki, ana), "mod_anna")
        session.commit()
    linked = boards(rig)
    ana_row = next(row for row in linked[0] if f"forum:{ana}" in row.accounts)
    assert set(ana_row.accounts) == {f"forum:{ana}", f"wiki:{ana_wiki}"}
    assert ana_row.organisation == "North Pantry"
    assert ana_row.by_kind["forum_reply"] == 4.0 and "wiki_text" in ana_row.by_kind
    assert all(row.person_id != wiki_person for row in linked[0])
    assert linked != before

    # Unlinked (from the wiki side): exactly the leaderboard before the link.
    with rig.store.session() as session:
        people.unlink(session, "wiki", ana_wiki, "mod_ben")
        session.commit()
        assert people.find_person(session, f"wiki:{ana_wiki}").id == wiki_person
    assert boards(rig) == before

    # Relinked, then unlinked from the forum side: the same two boards again.
    with rig.store.session() as session:
        people.link(session, (ana_wiki, ana), "mod_anna")
        session.commit()
    assert boards(rig) == linked
    with rig.store.session() as session:
        people.unlink(session, "forum", ana, "mod_anna")
        session.commit()
    assert boards(rig) == before

    # A shy person linked and unlinked stays opted out, and out of every board.
    with rig.store.session() as session:
        people.link(session, (shy_wiki, ben), "mod_anna")
        session.commit()
    shy_linked = boards(rig)
    assert all(f"forum:{ben}" not in row.accounts for row in shy_linked[0])
    assert shy_linked[1] == before[1]
    with rig.store.session() as session:
        people.unlink(session, "wiki", shy_wiki, "mod_anna")
        session.commit()
    assert boards(rig) == before

    # Every decision is kept, each link with the unlink that undid it.
    with rig.store.session() as session:
        decisions = session.scalars(select(IdentityDecision).order_by(IdentityDecision.id)).all()
        assert [(d.action, d.username, d.decided_by) for d in decisions] == [
            ("link", ana_wiki, "mod_anna"),
            ("unlink", ana_wiki, "mod_ben"),
            ("link", ana_wiki, "mod_anna"),
            ("unlink", ana_wiki, "mod_anna"),
            ("link", shy_wiki, "mod_anna"),
            ("unlink", shy_wiki, "mod_anna"),
        ]
        links = [d for d in decisions if d.action == "link"]
        assert [d.undone_by for d in links] == [decisions[1].id, decisions[3].id, decisions[5].id]
        assert links[0].moved_person["organisation"] == "Harbour Food Bank"
