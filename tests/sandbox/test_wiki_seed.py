"""The example partnership written to the real wiki."""

from __future__ import annotations

import requests

from sandbox.example_data import EXAMPLE, organisation_name
from sandbox.wiki_seed import seed_wiki
from tests.conftest import SessionWiki


def test_seeding_writes_every_page_once_with_a_leadership_rotation(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    first = seed_wiki(bot)
    assert first.constellations_created == len(EXAMPLE.constellations)
    assert first.practices_created == len(EXAMPLE.practices)

    titles = [c.name for c in EXAMPLE.constellations] + [p.name for p in EXAMPLE.practices]
    pages = bot.read_pages(titles)
    assert all(page.exists for page in pages.values())
    flood = EXAMPLE.constellations[0]
    text = pages[flood.name].text
    assert text.startswith("{{Constellation\n")
    assert f"| lead_partner = {organisation_name(flood.lead_partner)}" in text
    assert f"| beat = {flood.beat}" in text

    history = list(bot.revisions(flood.name, with_content=True))
    assert len(history) == 2
    assert history[0].text is not None and history[1].comment is not None
    assert f"| lead_partner = {organisation_name(flood.lead_partner)}" not in history[0].text
    assert history[1].comment.startswith("Lead partner rotates to")

    members = wiki_category_members(wiki, "Constellations")
    assert {c.name for c in EXAMPLE.constellations} <= members

    person_edit = bot.edit(flood.name, text + "\nNotes from the last meeting.\n", summary="notes")
    again = seed_wiki(bot)
    assert (again.constellations_created, again.practices_created) == (0, 0)
    assert bot.read_pages([flood.name])[flood.name].revid == person_edit.revid


def wiki_category_members(wiki: SessionWiki, category: str) -> set[str]:
    answer = requests.get(
        wiki.api,
        params={
            "action": "query",
            "list": "categorymembers",
            "cmtitle": f"Category:{category}",
            "cmlimit": "max",
            "format": "json",
        },
        timeout=10,
    ).json()
    return {member["title"] for member in answer["query"]["categorymembers"]}
