"""The leadership timeline, read from the real wiki's page history."""

from __future__ import annotations

from typing import Any

import pytest

from community.constellations import leadership
from community.constellations.leadership import timeline, update_timeline
from core.migrate import upgrade
from core.store import Store
from tests.community.constellations.test_wiki_section import charter_text


def update(store: Store, wiki_client: Any, title: str, page_id: int) -> int:
    with store.session() as session:
        return update_timeline(session, wiki_client, title=title, page_id=page_id)


def leads(store: Store, page_id: int) -> list[tuple[str | None, str, list[str]]]:
    with store.session() as session:
        return [(c.previous_lead, c.lead_partner, c.partners) for c in timeline(session, page_id)]


def test_every_change_of_lead_or_partners_is_recorded_in_order(wiki: Any, store: Store) -> None:
    bot, human = wiki.bot(), wiki.human()
    title = wiki.title("Leadership")
    made = bot.edit(title, "No charter yet.", summary="start", mode="create")
    bot.edit(title, charter_text("Alpha", "Alpha, Beta"), summary="charter")
    bot.edit(title, charter_text("Alpha", "Alpha, Beta") + "Prose.", summary="prose only")
    bot.edit(title, charter_text("Alpha").replace("active", "bogus"), summary="malformed")
    human.edit(title, charter_text("Beta", "Alpha, Beta"), summary="Beta leads")
    bot.edit(title, charter_text("Beta", "Beta, Alpha"), summary="reordered: no change")
    bot.edit(title, charter_text("Beta", "Alpha, Beta, Gamma"), summary="Gamma joins")

    assert update(store, bot, title, made.pageid) == 3

    assert leads(store, made.pageid) == [
        (None, "Alpha", ["Alpha", "Beta"]),
        ("Alpha", "Beta", ["Alpha", "Beta"]),
        ("Beta", "Beta", ["Alpha", "Beta", "Gamma"]),
    ]
    with store.session() as session:
        changes = timeline(session, made.pageid)
        assert [c.user for c in changes] == [bot.username, human.username, bot.username]
        assert changes[1].previous_partners == ["Alpha", "Beta"]
        assert changes == sorted(changes, key=lambda c: (c.timestamp, c.revid))
        history = {r.revid: r for r in bot.revisions(title)}
        assert [c.timestamp for c in changes] == [history[c.revid].timestamp for c in changes]


def test_updates_are_incremental(wiki: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = wiki.bot()
    title = wiki.title("Leadership")
    made = bot.edit(title, charter_text("Alpha"), summary="charter", mode="create")
    bot.edit(title, charter_text("Alpha") + "More.", summary="prose")
    assert update(store, bot, title, made.pageid) == 1

    parsed: list[str] = []
    real_parse = leadership.parse_charter

    def counting_parse(page_title: str, text: str) -> Any:
        parsed.append(text)
        return real_parse(page_title, text)

    monkeypatch.setattr(leadership, "parse_charter", counting_parse)
    assert update(store, bot, title, made.pageid) == 0
    assert parsed == []  # nothing new: not even the history is read

    bot.edit(title, charter_text("Delta", "Alpha, Delta"), summary="Delta leads")
    assert update(store, bot, title, made.pageid) == 1
    assert len(parsed) == 1  # only the new revision
    assert leads(store, made.pageid)[-1] == ("Alpha", "Delta", ["Alpha", "Delta"])


def test_a_history_longer_than_500_revisions_is_read_whole(wiki: Any, tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(f"sqlite:///{tmp_path / 'store.db'}")
    bot = wiki.bot()
    title = wiki.title("Long history")
    made = bot.edit(title, charter_text("Lead 0"), summary="charter", mode="create")
    for number in range(1, 521):
        lead = f"Lead {number // 130}"  # a new lead at 130, 260, 390 and 520
        bot.edit(title, charter_text(lead) + f"Step {number}.", summary=f"step {number}")
    assert sum(1 for _ in bot.revisions(title)) == 521

    assert update(store, bot, title, made.pageid) == 5

    assert [lead for _, lead, _ in leads(store, made.pageid)] == [f"Lead {n}" for n in range(5)]
    store.dispose()
