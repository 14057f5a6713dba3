"""Promotion of a forum topic to a practice page (forum -> wiki), against the real wiki
and the forum sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community.constellations.models import PageTopicLink
from community.practices import candidates
from community.practices.cli import practices as practices_command
from community.practices.models import Practice, PracticeSuggestion, PracticeTopic
from community.practices.page import parse_practice
from community.practices.promotion import PromotionError, page_text, promote, topic_link
from core.config import CONFIG_PATH_VAR
from tests.community.constellations.sync_support import SyncRig
from tests.community.test_practice_candidates import (  # noqa: F401 (an autouse fixture)
    BODY,
    Scene,
    active_discussion,
    admin,
    affiliations,
    discussion,
    make_scene,
    write_config,
)
from tests.conftest import SessionForum, SessionWiki

OPENING = (
    "**Community fridges** keep good food out of the bin: see [our rota guide]"
    "(https://example.org/guide) for who cleans when.\n\nA second paragraph with details."
)


@pytest.fixture(scope="module")
def scene(forum: SessionForum) -> Scene:
    return make_scene(forum)


def fridge_topic(rig: SyncRig, scene: Scene) -> tuple[int, str]:
    title = f"How we run a community fridge {rig.session_forum.name('')}"
    topic_id = discussion(
        rig.session_forum, scene, title, body=OPENING, replies=(scene.partner,), suffix=False
    )
    return topic_id, title


def test_promotion_creates_the_practice_page_tags_the_topic_and_closes_the_suggestion(
    rig: SyncRig, scene: Scene
) -> None:
    topic_id, title = fridge_topic(rig, scene)
    constellation = rig.session_wiki.title("Food sharing")
    with rig.store.session() as session:
        session.add(
            PageTopicLink(
                wiki_page_id=800_000 + topic_id,
                wiki_title=constellation,
                external_id=rig.session_forum.name("c-"),
                forum_category_id=scene.category_id,
            )
        )
        session.add(
            PracticeSuggestion(
                key=candidates.topic_key(topic_id),
                kind="candidate",
                topic_id=topic_id,
                title=title,
                score=3.0,
                reasons=["keywords: 'how we'"],
            )
        )

    with rig.store.session() as session:
        done = promote(
            session,
            rig.wiki,
            rig.forum,
            rig.settings,
            topic_id=topic_id,
            moderator="mod_anna",
        )

    assert (done.title, done.topic_id, done.resumed) == (title, topic_id, False)
    page = rig.wiki.read_pages([title])[title]
    assert page.exists and page.pageid == done.page_id
    parsed = parse_practice(title, page.text)
    assert parsed is not None
    assert parsed.summary == (
        "Community fridges keep good food out of the bin: see our rota guide for who cleans when."
    )
    assert parsed.originating_organisation == scene.org_a
    assert parsed.related_constellations == (constellation,)
    assert parsed.adopted_by == ()
    topic = rig.forum.get_topic(topic_id)
    assert f"[{topic_link(rig.settings, topic)} " in page.text
    assert done.tag in topic.tags
    group = next(
        g for g in rig.forum.tag_groups() if g.name == rig.settings["practices"]["tag_group"]
    )
    assert done.tag in group.tag_names
    with rig.store.session() as session:
        practice = session.get(Practice, done.page_id)
        assert practice is not None
        assert (practice.title, practice.tag) == (title, done.tag)
        assert (practice.author, practice.author_platform) == (scene.author, "forum")
        suggestion = session.get(PracticeSuggestion, done.suggestion_id)
        assert suggestion is not None
        assert (suggestion.state, suggestion.page_title, suggestion.decided_by) == (
            "promoted",
            title,
            "mod_anna",
        )
        assert session.scalars(
            select(PracticeTopic.topic_id).where(PracticeTopic.page_id == done.page_id)
        ).all() == [topic_id]

    # A second promotion refuses cleanly and writes nothing.
    before = rig.writes()
    with rig.store.session() as session, pytest.raises(PromotionError, match="already promoted"):
        promote(session, rig.wiki, rig.forum, rig.settings, topic_id=topic_id, moderator=None)
    assert rig.writes() == before


def test_promotion_refuses_a_taken_title_a_missing_topic_and_a_private_message(
    rig: SyncRig, scene: Scene
) -> None:
    topic_id, _ = fridge_topic(rig, scene)
    taken = rig.session_wiki.title("Somebody's page")
    rig.session_wiki.human().edit(taken, "A page people wrote.", summary="test", mode="create")
    message = rig.session_forum.client(scene.author).create_post(
        BODY,
        title=f"A private plan {rig.session_forum.name('')}",
        archetype="private_message",
        target_recipients=scene.partner,
    )
    loner = rig.session_forum.name("lo")
    admin(rig.session_forum).create_user(loner, "Lone Person", f"{loner}@example.org")
    orphan = discussion(rig.session_forum, scene, "How we keep our own notes", author=loner)

    refusals: dict[str, dict[str, Any]] = {
        "taken": dict(topic_id=topic_id, title=taken),
        "missing": dict(topic_id=987_654_321),
        "private": dict(topic_id=int(message["topic_id"])),
        "bad title": dict(topic_id=topic_id, title="Rota [draft]"),
        "no organisation": dict(topic_id=orphan),
    }
    messages = {}
    for name, options in refusals.items():
        with rig.store.session() as session, pytest.raises(PromotionError) as refused:
            promote(session, rig.wiki, rig.forum, rig.settings, moderator=None, **options)
        messages[name] = str(refused.value)

    assert messages == {
        "taken": f"title {taken!r}: a page with this title exists already; choose another title",
        "missing": "topic 987654321: not found on the forum",
        "private": f"topic {message['topic_id']}: a private message is never a practice",
        "bad title": "title 'Rota [draft]': a wiki title may not contain [ ]",
        "no organisation": (
            f"topic {orphan}: its author {loner} is in no partner organisation; "
            "name the originating organisation with --organisation"
        ),
    }
    assert rig.wiki.read_pages([taken])[taken].text == "A page people wrote."
    with rig.store.session() as session:
        assert session.scalars(select(Practice)).all() == []
        assert session.scalars(select(PracticeSuggestion)).all() == []


def test_an_interrupted_promotion_is_completed_by_running_it_again(
    rig: SyncRig, scene: Scene
) -> None:
    topic_id, title = fridge_topic(rig, scene)
    topic = rig.forum.get_topic(topic_id)
    # The page was made, then the promotion stopped before the rest.
    with rig.store.session() as session:
        text = page_text(
            session, rig.settings, topic, origin=scene.org_a, link=topic_link(rig.settings, topic)
        )
    rig.wiki.edit(title, text, summary="an earlier promotion", mode="create")

    with rig.store.session() as session:
        done = promote(
            session, rig.wiki, rig.forum, rig.settings, topic_id=topic_id, moderator="mod_ben"
        )

    assert done.resumed and done.title == title
    assert done.tag in rig.forum.get_topic(topic_id).tags
    with rig.store.session() as session:
        suggestion = session.get(PracticeSuggestion, done.suggestion_id)
        assert suggestion is not None and suggestion.state == "promoted"


@pytest.fixture
def sqlite_rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def test_the_promote_command(
    sqlite_rig: SyncRig, scene: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = sqlite_rig
    topic_id = active_discussion(rig.session_forum, scene, "Our approach to repair evenings")
    title = rig.session_wiki.title("Repair evenings")
    monkeypatch.setenv(CONFIG_PATH_VAR, str(write_config(rig, tmp_path)))
    runner = CliRunner()
    arguments = ["promote", str(topic_id), "--title", title, "--organisation", scene.org_b]

    done = runner.invoke(practices_command, [*arguments, "--by", "mod_anna"])

    assert done.exit_code == 0, done.output
    with rig.store.session() as session:
        practice = session.scalars(select(Practice).where(Practice.title == title)).one()
    assert done.output == f"promoted topic {topic_id} to {title!r} (tag {practice.tag})\n"
    parsed = parse_practice(title, rig.wiki.read_pages([title])[title].text)
    assert parsed is not None and parsed.originating_organisation == scene.org_b
    again = runner.invoke(practices_command, arguments)
    assert again.exit_code == 1
    assert f"Error: topic {topic_id}: already promoted to {title!r}" in again.output
