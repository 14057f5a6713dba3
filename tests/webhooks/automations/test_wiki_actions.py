"""The wiki actions against the session's real MediaWiki: a named section written,
rewritten, a person's edit inside it kept above it, a missing page refused; a practice
stub created once, and an existing page left alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from community.bot_section import BEGIN, END, MOVED_NOTE, section_hash
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.config import Settings
from core.migrate import upgrade
from core.store import Store
from tests.conftest import SessionForum, SessionWiki
from tests.webhooks.automations.test_facts import make_settings
from webhooks.automations.actions import perform, plan
from webhooks.automations.models import NamedSectionState
from webhooks.automations.vocabulary import ActionEnv, ActionError, ActionSpec, Facts, Outcome

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SECTION_BEGIN = "<!-- constellate:beat-notes:begin -->"
SECTION_END = "<!-- constellate:beat-notes:end -->"


@dataclass
class Rig:
    settings: Settings
    bot: WikiClient
    wiki: SessionWiki
    store: Store

    def act(self, kind: str, options: dict[str, Any], key: str, **facts: Any) -> Outcome:
        planned = plan(ActionSpec(kind, options), Facts(facts), self.settings)

        def no_forum() -> ForumClient:
            raise AssertionError("a wiki action used the forum")

        with self.store.session() as session:
            env = ActionEnv(
                session=session,
                settings=self.settings,
                forum=no_forum,
                wiki=lambda: self.bot,
                rule="beat-notes",
                event_id="schedule:beat:1",
                key=key,
                now=NOW,
            )
            return perform(planned, env)

    def text(self, title: str) -> str:
        return self.bot.read_pages([title])[title].text

    def state(self, title: str) -> NamedSectionState | None:
        page_id = self.bot.read_pages([title])[title].pageid
        with self.store.session() as session:
            return session.get(NamedSectionState, (page_id, "beat-notes"))


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, sqlite_url: str) -> Iterator[Rig]:
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    settings = make_settings(forum, wiki=wiki.config())
    yield Rig(settings, wiki.bot(), wiki, store)
    store.dispose()


SECTION = {"page": "{{page_title}}", "section": "beat-notes", "text": "Beat {{n}}: {{note}}"}


def test_a_named_section_is_written_and_rewritten(rig: Rig) -> None:
    title = rig.wiki.title("Flood Wardens Network")
    other_section = f"{BEGIN}\nThe forum section.\n{END}\n"
    rig.wiki.human().edit(
        title, f"Intro by a person.\n\n{other_section}", summary="new", mode="create"
    )

    outcome = rig.act("wiki_section", SECTION, "s1", page_title=title, n=3, note="[[Spam]] & {{x}}")
    text = rig.text(title)
    inside = "Beat 3: &#91;&#91;Spam&#93;&#93; &#38; &#123;&#123;x&#125;&#125;"
    assert text.startswith("Intro by a person.")
    assert other_section.strip() in text  # the unnamed section is not touched
    assert text.endswith(f"{SECTION_BEGIN}\n{inside}\n{SECTION_END}")
    assert outcome.objects == (f"page:{title}",)
    state = rig.state(title)
    assert state is not None and state.written_hash == section_hash(inside)

    same = rig.act("wiki_section", SECTION, "s1", page_title=title, n=3, note="[[Spam]] & {{x}}")
    assert same.objects == () and rig.text(title) == text

    rig.act("wiki_section", SECTION, "s2", page_title=title, n=4, note="all quiet")
    text = rig.text(title)
    assert text.count(SECTION_BEGIN) == 1 and text.count(SECTION_END) == 1
    assert f"{SECTION_BEGIN}\nBeat 4: all quiet\n{SECTION_END}" in text
    assert "Spam" not in text and MOVED_NOTE not in text


def test_a_person_s_edit_inside_the_section_is_kept_above_it(rig: Rig) -> None:
    title = rig.wiki.title("Harbour Network")
    rig.wiki.human().edit(title, "Intro by a person.\n", summary="new", mode="create")
    rig.act("wiki_section", SECTION, "s1", page_title=title, n=1, note="first")
    human = rig.wiki.human()
    page = human.read_pages([title])[title]
    edited = page.text.replace("Beat 1: first", "Beat 1: first, and my own note")
    human.edit(title, edited, summary="my note", base=page)

    outcome = rig.act("wiki_section", SECTION, "s2", page_title=title, n=2, note="second")
    text = rig.text(title)
    assert "moved above" in outcome.description
    kept = text.index("Beat 1: first, and my own note")
    assert text.index(MOVED_NOTE) < kept < text.index(SECTION_BEGIN)
    assert text.endswith(f"{SECTION_BEGIN}\nBeat 2: second\n{SECTION_END}")


def test_a_missing_page_is_refused_never_created(rig: Rig) -> None:
    title = rig.wiki.title("Nobody Wrote This")
    with pytest.raises(ActionError, match="does not exist"):
        rig.act("wiki_section", SECTION, "s1", page_title=title, n=1, note="x")
    assert not rig.bot.read_pages([title])[title].exists
    with pytest.raises(ActionError, match="section 'Beat Notes'"):
        rig.act("wiki_section", {**SECTION, "section": "Beat Notes"}, "s2", page_title=title)


STUB = {"title": "{{practice_title}}", "summary": "{{text}}", "organisation": "{{organisation}}"}


def test_a_practice_stub_is_created_once(rig: Rig) -> None:
    title = rig.wiki.title("Night shift rota")
    facts = {
        "practice_title": title,
        "text": "Two wardens per night | never alone",
        "organisation": "Riverlands Water Trust",
    }
    outcome = rig.act("practice_stub", STUB, "p1", **facts)
    page = rig.bot.read_pages([title])[title]
    assert page.exists and outcome.objects == (f"page:{title}",)
    assert page.text.startswith(
        "{{Practice\n| summary = Two wardens per night &#124; never alone\n"
    )
    assert "| originating_organisation = Riverlands Water Trust\n" in page.text

    again = rig.act("practice_stub", STUB, "p1", **facts)
    assert "left alone" in again.description and again.objects == ()
    assert rig.bot.read_pages([title])[title].revid == page.revid


def test_a_practice_stub_leaves_an_existing_page_alone(rig: Rig) -> None:
    title = rig.wiki.title("Sandbag depot map")
    rig.wiki.human().edit(
        title, "A person's own page about the map.\n", summary="new", mode="create"
    )
    outcome = rig.act(
        "practice_stub", STUB, "p1", practice_title=title, text="A map", organisation="X"
    )
    assert "exists already" in outcome.description
    assert rig.text(title) == "A person's own page about the map."
    with pytest.raises(ActionError, match="may not contain"):
        rig.act("practice_stub", STUB, "p2", practice_title="A [bad] title", text="x")
