"""The practices registry against the real wiki and the forum sandbox: tags in the
practices tag group, the page's section, renames, stubs and malformed pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community.bot_section import BEGIN, END
from community.constellations.models import open_issues
from community.practices import handlers
from community.practices.cli import practices as practices_command
from community.practices.models import Practice, PracticeSuggestion, PracticeTagName
from community.practices.registry import sync_practices
from core.config import CONFIG_PATH_VAR
from core.errors import NotFound
from service.dispatch import HANDLERS
from tests.community.constellations.sync_support import SyncRig
from tests.community.practice_support import (
    make_practice,
    practice_rig,
    practice_text,
    run_wiki_events,
)
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[SyncRig]:
    made = practice_rig(SyncRig(wiki, forum, tmp_path), store_url)
    yield made
    made.store.dispose()


def group_tags(rig: SyncRig) -> set[str]:
    name = rig.settings["practices"]["tag_group"]
    return {t for g in rig.forum.tag_groups() if g.name == name for t in g.tag_names}


def sync(rig: SyncRig, *titles: str, full: bool = False) -> dict[str, int]:
    summary = sync_practices(
        rig.store, rig.settings, titles=titles, full=full, wiki=rig.wiki, forum=rig.forum
    )
    assert summary.errors == 0, summary.lines
    return summary.outcomes


def test_a_practice_gets_its_tag_in_the_group_and_a_section(rig: SyncRig) -> None:
    title = make_practice(rig, "Pn")
    other = make_practice(rig, "Po", tag=rig.session_forum.name("own-"))

    assert sync(rig, full=True) == {"created": 2}

    page = rig.wiki.read_pages([title])[title]
    tag = title.lower().replace(" ", "-")
    with rig.store.session() as session:
        practice = session.get(Practice, page.pageid)
        assert practice is not None and practice.tag == tag and practice.title == title
        assert practice.author == rig.session_wiki.sandbox.human_username
        assert practice.author_platform == "wiki" and practice.aliases == []
        assert practice.originating_organisation == "Harbour Food Bank"
        names = session.scalars(select(PracticeTagName).where(PracticeTagName.name == tag))
        assert [(n.page_id, n.current) for n in names] == [(page.pageid, True)]
        explicit = session.scalars(select(Practice).where(Practice.title == other)).one()
        assert explicit.tag.startswith("own-")
    assert group_tags(rig) == {tag, explicit.tag}
    assert page.text.startswith("{{Practice") and "Human text about the practice." in page.text
    section = page.text[page.text.index(BEGIN) : page.text.index(END)]
    assert "=== Discussed on the forum ===\n* No discussions yet." in section
    assert "=== Adopted by ===\n* North Pantry (since " in section
    # The page's author is credited for the practice, and listed as the wiki's contributor.
    author = rig.session_wiki.sandbox.human_username
    credits = section[section.index("=== Credits ===") :]
    assert f"* {author} (wiki: {author}; no partner organisation): 10\n" in credits

    # Nothing changed: a second sync reads, and writes nothing anywhere.
    before = rig.writes()
    assert sync(rig, full=True) == {"unchanged": 2}
    assert rig.writes() == before


def test_a_malformed_page_is_reported_and_changes_nothing(rig: SyncRig) -> None:
    broken = rig.session_wiki.title("Practice broken")
    human = rig.session_wiki.human()
    human.edit(broken, "{{Practice|summary=Lost}}", summary="t", mode="create")
    before = rig.writes()

    assert sync(rig, broken) == {"malformed": 1}

    assert rig.writes() == before
    with rig.store.session() as session:
        assert session.scalars(select(Practice)).all() == []
        assert session.scalars(select(PracticeTagName)).all() == []
        issues = [(i.wiki_title, i.field, i.detail) for i in open_issues(session)]
    assert issues == [(broken, "originating_organisation", "missing")]

    # A practice that breaks later keeps what it had; fixing it closes the issue.
    title = make_practice(rig, "Pb")
    sync(rig, title)
    with rig.store.session() as session:
        revid = session.scalars(select(Practice.revid).where(Practice.title == title)).one()
    page = human.read_pages([title])[title]
    bad = page.text.replace("| summary = One win a week", "| tag = Not A Tag\n| summary = x")
    human.edit(title, bad, summary="t", base=page)
    assert sync(rig, title) == {"malformed": 1}
    with rig.store.session() as session:
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
        assert practice.summary == "One win a week" and practice.revid == revid
        assert [i.field for i in open_issues(session) if i.wiki_title == title] == ["tag"]
    page = human.read_pages([title])[title]
    human.edit(title, page.text.replace("| tag = Not A Tag\n", ""), summary="t", base=page)
    assert sync(rig, title) == {"updated": 1}
    with rig.store.session() as session:
        assert [i for i in open_issues(session) if i.wiki_title == title] == []


def test_a_moved_page_renames_the_tag_and_keeps_the_old_one_as_a_synonym(rig: SyncRig) -> None:
    title = make_practice(rig, "Pm")
    sync(rig, title)
    with rig.store.session() as session:
        old_tag = session.scalars(select(Practice.tag).where(Practice.title == title)).one()
    topic_id = int(
        rig.session_forum.client().create_post(
            "A topic that people tagged with the practice on the forum.",
            title=f"Notes on {rig.session_forum.name('x')}",
            **{"tags[]": [old_tag]},
        )["topic_id"]
    )
    new_title = rig.session_wiki.title("Pv")
    since = rig.wiki.latest_cursor()
    rig.session_wiki.human().move(title, new_title, "a clearer name")
    with pytest.raises(NotFound):
        rig.session_wiki.human().move(rig.session_wiki.title("Gone"), new_title + " x", "r")

    assert "wiki.move" in run_wiki_events(rig, {title, new_title}, since)

    new_tag = new_title.lower().replace(" ", "-")
    assert rig.forum.get_topic(topic_id).tags == (new_tag,)
    info = rig.forum.tag_info(new_tag)
    assert info is not None and [s["name"] for s in info["synonyms"]] == [old_tag]
    assert info["tag_group_names"] == [rig.settings["practices"]["tag_group"]]
    assert group_tags(rig) == {new_tag}
    with rig.store.session() as session:
        practice = session.scalars(select(Practice).where(Practice.title == new_title)).one()
        assert practice.tag == new_tag and practice.deleted_at is None
        names = {n.name: n.current for n in session.scalars(select(PracticeTagName))}
    assert names == {old_tag: False, new_tag: True}
    # The section went with the page: it is on the page under its new title.
    assert BEGIN in rig.wiki.read_pages([new_title])[new_title].text

    # An explicit tag that already exists on the forum: the old one becomes its synonym.
    existing = rig.session_forum.name("ex-")
    rig.session_forum.client().create_post(
        "Another topic that carries an existing tag, made by people.",
        title=f"Existing {rig.session_forum.name('x')}",
        **{"tags[]": [existing]},
    )
    human = rig.session_wiki.human()
    page = human.read_pages([new_title])[new_title]
    human.edit(new_title, practice_text(rig, tag=existing), summary="t", base=page)
    before = rig.forum_counts.copy()
    assert sync(rig, new_title) == {"renamed": 1}
    assert rig.forum_counts["PUT"] - before["PUT"] == 1  # the group only: no tag rename
    synonyms = {s["name"] for s in (rig.forum.tag_info(existing) or {})["synonyms"]}
    assert synonyms == {old_tag, new_tag}  # the names it had before move along
    assert rig.forum.get_topic(topic_id).tags == (existing,)
    assert existing in group_tags(rig)
    with rig.store.session() as session:
        names = {n.name: n.current for n in session.scalars(select(PracticeTagName))}
    assert names == {old_tag: False, new_tag: False, existing: True}


def test_a_practice_tag_people_made_is_suggested_as_a_stub_once(rig: SyncRig) -> None:
    made = make_practice(rig, "Pw")
    sync(rig, made)
    group = next(
        g for g in rig.forum.tag_groups() if g.name == rig.settings["practices"]["tag_group"]
    )
    people_tag = rig.session_forum.name("seed-swap-")
    rig.forum.update_tag_group(group.id, tag_names=[*group.tag_names, people_tag])

    summary = sync_practices(rig.store, rig.settings, full=True, wiki=rig.wiki, forum=rig.forum)

    assert summary.stubs_suggested == 1 and f"stub suggested: tag {people_tag}" in summary.lines
    with rig.store.session() as session:
        stub = session.scalars(select(PracticeSuggestion)).one()
        assert (stub.kind, stub.key, stub.tag, stub.state) == (
            "stub",
            f"tag:{people_tag}",
            people_tag,
            "open",
        )
        assert stub.title == people_tag[:1].upper() + people_tag[1:].replace("-", " ")
        stub.state = "dismissed"
    again = sync_practices(rig.store, rig.settings, full=True, wiki=rig.wiki, forum=rig.forum)
    assert again.stubs_suggested == 0
    with rig.store.session() as session:
        assert [s.state for s in session.scalars(select(PracticeSuggestion))] == ["dismissed"]


def test_the_handlers_are_dispatched() -> None:
    assert handlers.sync_practice in HANDLERS["wiki.edit"]
    assert handlers.sync_practice in HANDLERS["wiki.move"]
    for kind in ("topic_created", "topic_edited", "post_created", "post_edited"):
        assert handlers.tag_forum_topic in HANDLERS[f"forum.{kind}"]


def test_the_command_prints_what_it_did(
    rig: SyncRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    title = make_practice(rig, "Pc")
    config = tmp_path / "constellate.toml"
    lines = []
    for name in ("service", "store", "wiki", "forum", "practices"):
        lines.append(f"[{name}]")
        for key, value in rig.settings[name].items():
            if isinstance(value, str | int) and not isinstance(value, bool):
                lines.append(f"{key} = {json_value(value)}")
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(CONFIG_PATH_VAR, str(config))
    runner = CliRunner()

    done = runner.invoke(practices_command, ["sync", "--practice", title])

    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == ["practices: 1 created", f"  created: {title}"]
    assert runner.invoke(practices_command, ["sync"]).exit_code == 2


def json_value(value: str | int) -> str:
    return str(value) if isinstance(value, int) else '"' + value.replace('"', '\\"') + '"'
