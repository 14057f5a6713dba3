"""The credits block: every contributor the wiki lists, linked accounts, organisations,
opt-out, and the block on a constellation page on the real wiki."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from community.bot_section import BEGIN, END
from community.constellations.sync import sync_constellations
from community.credits.credits_section import credits_block, practice_credits_block
from community.credits.models import Account, Person
from community.practices.models import Practice
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.community.test_wiki_credit import edit_as, make_account, run_events
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def test_every_wiki_contributor_is_listed_and_opted_out_people_are_not_named(
    rig: SyncRig,
) -> None:
    wiki = rig.session_wiki
    author = wiki.sandbox.human_username
    removed, shy = make_account(wiki, "Credit Gone"), make_account(wiki, "Credit Shy")
    title = wiki.title("Credits block")
    start = rig.wiki.latest_cursor()
    words = " ".join(f"w{n}" for n in range(50))
    edit_as(wiki, author, title, words)
    edit_as(wiki, removed, title, words + " r1 r2 r3")
    edit_as(wiki, shy, title, words + " s1 s2 s3 s4 s5 s6 s7 s8 s9 s10")  # drops r1..r3
    page = rig.wiki.read_pages([title])[title]
    rig.wiki.edit(title, page.text + " bot", summary="test", base=page)
    run_events(rig, title, start)
    contributors = rig.wiki.contributors(title)
    assert set(contributors) == {author, removed, shy}  # the bot is not a contributor
    forum_name = rig.session_forum.name("f")
    with rig.store.session() as session:
        mine = session.scalars(
            select(Account).where(Account.platform == "wiki", Account.username == author)
        ).one()
        person = session.get(Person, mine.person_id)
        assert person is not None
        person.name, person.organisation = "Ana [[Example]]", "Harbour Food Bank"
        session.add(Account(platform="forum", username=forum_name, person_id=person.id))
        shy_person = session.scalars(
            select(Person)
            .join(Account, Account.person_id == Person.id)
            .where(Account.username == shy)
        ).one()
        shy_person.opted_out = True
        session.flush()
        page_id = page.pageid
        lines = credits_block(
            session, rig.settings, scopes=[f"page:{page_id}"], wiki_contributors=contributors
        )
        practice = Practice(page_id=page_id, title=title, tag="x", revid=1)
        assert (
            practice_credits_block(session, rig.settings, practice, wiki_contributors=contributors)
            == lines
        )
    assert lines[0] == "=== Credits ==="
    # 50 surviving tokens (0.5) and the page's creation (3); names and text escaped.
    assert lines[2:] == [
        f"* Ana &#91;&#91;Example&#93;&#93; (wiki: {author}, forum: {forum_name}; "
        "Harbour Food Bank): 3.5",
        f"* {removed} (wiki: {removed}; no partner organisation): 0",
        "* and 1 more contributor who asked not to be listed.",
    ]


def test_the_constellation_page_shows_credits_and_keeps_human_text(rig: SyncRig) -> None:
    wiki = rig.session_wiki
    author = wiki.sandbox.human_username
    title = wiki.title("Credits constellation")
    human_text = charter_text(rig.session_forum.name("cat-")) + "\nMore words by a person."
    start = rig.wiki.latest_cursor()
    edit_as(wiki, author, title, human_text)
    run_events(rig, title, start)

    summary = sync_constellations(rig.store, rig.settings, titles=[title])

    assert summary.wiki_sections_written == 1
    text = rig.wiki.read_pages([title])[title].text
    assert text.startswith(human_text.rstrip())
    inside = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    credits = inside[inside.index("=== Credits ===") : inside.index("=== Health ===")]
    assert f"* {author} (wiki: {author}; no partner organisation): 3." in credits
    # A second sync with nothing new writes nothing.
    assert sync_constellations(rig.store, rig.settings, titles=[title]).wiki_sections_written == 0
