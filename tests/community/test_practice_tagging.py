"""Forum topics that link to or name a practice get its tag (the real wiki and the forum
sandbox, through the practice handlers and the full sync)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from community.bot_section import BEGIN, END
from community.constellations.charter import page_url
from community.practices.models import Practice, PracticeSuggestion, PracticeTopic
from community.practices.registry import sync_practices
from sandbox.forum.state import ForumEvent
from tests.community.constellations.sync_support import SyncRig
from tests.community.practice_support import (
    create_topic,
    make_practice,
    practice_rig,
    run_forum_events,
)
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[SyncRig]:
    made = practice_rig(SyncRig(wiki, forum, tmp_path), store_url)
    yield made
    made.store.dispose()


@pytest.fixture
def events(rig: SyncRig) -> Iterator[list[ForumEvent]]:
    seen: list[ForumEvent] = []
    rig.session_forum.forum.listeners.append(seen.append)
    yield seen
    rig.session_forum.forum.listeners.remove(seen.append)


def section_of(rig: SyncRig, title: str) -> str:
    text = rig.wiki.read_pages([title])[title].text
    return text[text.index(BEGIN) : text.index(END)]


def rows(rig: SyncRig) -> dict[int, tuple[str, bool]]:
    with rig.store.session() as session:
        found = session.scalars(select(PracticeTopic))
        return {row.topic_id: (row.matched_by, row.removed_at is None) for row in found}


def test_topics_that_link_to_or_name_a_practice_get_its_tag(
    rig: SyncRig, events: list[ForumEvent]
) -> None:
    alias = f"seed swap {rig.session_forum.name('evening')}"
    title = make_practice(rig, "Pt", aliases=f"{alias}, ")
    sync_practices(rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum)
    with rig.store.session() as session:
        tag = session.scalars(select(Practice.tag).where(Practice.title == title)).one()
    keep = rig.session_forum.name("keep-")
    url = page_url(rig.settings, title).replace(" ", "_")
    member = rig.session_forum.name("u")
    rig.session_forum.client().create_user(
        "M", member, f"{member}@example.org", "a-long-password", active="true"
    )
    name = rig.session_forum.name
    linked = create_topic(rig, f"Linked {name()}", f"How we did it: {url}.", tags=[keep])
    wikilink = create_topic(
        rig, f"Wikilinked {name()}", f"Read [[{title.replace(' ', '_')}]] first."
    )
    named = create_topic(rig, f"About {title.upper()} {name()}")
    aliased = create_topic(rig, f"Aliased {name()}", f"We ran a {alias.title()} last week.")
    tagged = create_topic(rig, f"Tagged {name()}", tags=[tag])
    longer = create_topic(rig, f"Not it {name()}", f"The {title}x page is another thing.")
    private = create_topic(
        rig,
        f"Private {title} {name()}",
        f"A private message about {url} that stays private.",
        archetype="private_message",
        target_recipients=member,
    )

    run_forum_events(rig, events)

    forum = rig.forum
    assert forum.get_topic(linked).tags == (keep, tag)  # the tags people gave are kept
    for topic_id in (wikilink, named, aliased, tagged):
        assert forum.get_topic(topic_id).tags == (tag,)
    assert forum.get_topic(longer).tags == () and forum.get_topic(private).tags == ()
    assert rows(rig) == {
        linked: ("link", True),
        wikilink: ("link", True),
        named: ("title", True),
        aliased: ("alias", True),
        tagged: ("tag", True),
    }
    section = section_of(rig, title)
    discussed = section.split("=== Discussed on the forum ===\n", 1)[1].split("\n\n", 1)[0]
    listed = [int(line.split(" ")[1].rsplit("/", 1)[1]) for line in discussed.splitlines()]
    assert listed == sorted([linked, wikilink, named, aliased, tagged], reverse=True)
    assert "No discussions yet" not in section and "&#91;" not in section
    assert f"/t/{forum.get_topic(named).slug}/{named} About " in section

    # Replaying every event changes nothing anywhere.
    before = rig.writes()
    run_forum_events(rig, list(events))
    assert rig.writes() == before

    # People take the tag off a topic: it stays off, and leaves the section.
    events.clear()
    forum.update_topic(linked, tags=[keep])
    run_forum_events(rig, events)
    assert forum.get_topic(linked).tags == (keep,)
    assert rows(rig)[linked] == ("link", False)
    assert f"/{linked} " not in section_of(rig, title)


def test_the_full_sync_finds_topics_and_stub_tags_on_the_forum(
    rig: SyncRig, events: list[ForumEvent]
) -> None:
    title = make_practice(rig, "Pf")
    sync_practices(rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum)
    topic_id = create_topic(rig, f"Trying {title} here {rig.session_forum.name()}")
    # A practice tag people made on the forum and put in the group, seen on a topic.
    people_tag = rig.session_forum.name("compost-")
    group = next(
        g for g in rig.forum.tag_groups() if g.name == rig.settings["practices"]["tag_group"]
    )
    rig.forum.update_tag_group(group.id, tag_names=[*group.tag_names, people_tag])
    create_topic(rig, f"Compost {rig.session_forum.name()}", tags=[people_tag])
    run_forum_events(rig, [e for e in events if e.payload.get("title", "").startswith("Compost")])
    with rig.store.session() as session:
        assert [s.key for s in session.scalars(select(PracticeSuggestion))] == [f"tag:{people_tag}"]

    summary = sync_practices(rig.store, rig.settings, full=True, wiki=rig.wiki, forum=rig.forum)

    assert summary.topics_tagged == 1 and summary.stubs_suggested == 0
    assert rig.forum.get_topic(topic_id).tags[-1].startswith("pf-")
    assert rows(rig) == {topic_id: ("title", True)}
    assert f"/{topic_id} Trying " in section_of(rig, title)
