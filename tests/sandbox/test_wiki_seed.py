"""The example's wiki history imported into a real MediaWiki: every page once, revisions
by the example's people as local users over eighteen months, lead rotations months apart
ending with the data's leads, and a second seed that adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from community.constellations.charter import parse_charter
from connectors.mediawiki.records import parse_time
from sandbox.example_data import EXAMPLE, organisation_name
from sandbox.wiki_history import PlannedPage, plan_history
from sandbox.wiki_seed import WikiSeedReport, seed_wiki
from service.main import main
from tests.conftest import SessionWiki, served_wiki, toml


@dataclass
class Seeded:
    wiki: SessionWiki
    now: datetime
    report: WikiSeedReport
    plan: list[PlannedPage]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A wiki of its own: the example's pages must not exist before the seed."""
    with contextmanager(served_wiki)(tmp_path_factory.mktemp("seed-wiki")) as wiki:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        yield Seeded(wiki, now, seed_wiki(wiki.sandbox, now), plan_history(EXAMPLE, now))


def test_every_page_is_imported_once_as_planned(seeded: Seeded) -> None:
    report = seeded.report
    assert report.partners_created == len(EXAMPLE.organisations)
    assert report.constellations_created == len(EXAMPLE.constellations)
    assert report.practices_created == len(EXAMPLE.practices)
    assert report.revisions == sum(len(p.revisions) for p in seeded.plan) >= 100
    bot = seeded.wiki.bot()
    pages = bot.read_pages([p.title for p in seeded.plan])
    for planned in seeded.plan:
        assert pages[planned.title].text == planned.text, planned.title
    assert {c.name for c in EXAMPLE.constellations} <= category_members(
        seeded.wiki, "Constellations"
    )
    assert {p.name for p in EXAMPLE.practices} <= category_members(seeded.wiki, "Practices")


def test_revisions_are_by_the_examples_people_as_local_users_over_eighteen_months(
    seeded: Seeded,
) -> None:
    bot = seeded.wiki.bot()
    revisions = [r for p in seeded.plan for r in bot.revisions(p.title)]
    assert [(r.user, r.timestamp) for r in revisions] == [
        (r.user, r.at) for p in seeded.plan for r in p.revisions
    ]
    editors = {r.user or "" for r in revisions}
    assert len(editors) >= 15 and not any(">" in name for name in editors)
    # Local users, registered before their first edit, with their edits counted.
    users = local_users(seeded.wiki, editors)
    for name in editors:
        theirs = [r.timestamp for r in revisions if r.user == name]
        assert users[name]["editcount"] == len(theirs), name
        assert parse_time(users[name]["registration"]) < min(theirs), name
    oldest = min(r.timestamp for r in revisions)
    assert timedelta(days=520) < seeded.now - oldest < timedelta(days=570)


def test_active_constellations_rotate_their_lead_months_apart(seeded: Seeded) -> None:
    bot = seeded.wiki.bot()
    for constellation in EXAMPLE.constellations:
        changes: list[tuple[str, datetime]] = []
        term_ends = []
        for revision in bot.revisions(constellation.name, with_content=True):
            charter = parse_charter(constellation.name, revision.text or "")
            assert charter is not None
            if not changes or charter.lead_partner != changes[-1][0]:
                changes.append((charter.lead_partner, revision.timestamp))
                term_ends.append(charter.term_end)
        assert changes[-1][0] == organisation_name(constellation.lead_partner)
        assert term_ends[-1] == constellation.term_end(seeded.now)
        assert len(set(term_ends)) == len(changes)  # each lead with a term of its own
        if constellation.status == "active":
            assert len(changes) >= 3, constellation.name  # two rotations at least
            for (_, before), (_, after) in pairwise(changes):
                assert after - before > timedelta(days=60), constellation.name


def test_a_second_seed_adds_nothing_and_keeps_a_persons_later_edit(seeded: Seeded) -> None:
    flood = EXAMPLE.constellations[0].name
    human = seeded.wiki.human()
    page = human.read_pages([flood])[flood]
    edit = human.edit(
        flood, f"{page.text}\nNotes from the last meeting.\n", summary="notes", base=page
    )
    revisions = len(list(human.revisions(flood)))
    # Another day: the same story at other dates would be other revisions, yet none comes.
    again = seed_wiki(seeded.wiki.sandbox, seeded.now + timedelta(days=3))
    assert again == WikiSeedReport()
    assert human.read_pages([flood])[flood].revid == edit.revid
    assert len(list(human.revisions(flood))) == revisions


def test_the_seed_command_finds_the_sandbox_wiki_by_its_folder(
    seeded: Seeded, tmp_path: Path
) -> None:
    config = tmp_path / "constellate.toml"
    sections = {"service": {"secret_key": "s" * 40}, "wiki": seeded.wiki.config(), "forum": {}}
    config.write_text(toml(sections))
    command = ["--config", str(config), "sandbox", "seed", "--wiki-dir"]
    done = CliRunner().invoke(main, [*command, str(seeded.wiki.sandbox.dir)])
    assert done.exit_code == 0, done.output
    assert done.output == (
        "wiki: 0 partner pages, 0 constellation pages, 0 practice pages, 0 revisions by 0 people\n"
    )
    nowhere = tmp_path / "no-wiki"
    refused = CliRunner().invoke(main, [*command, str(nowhere)])
    assert refused.exit_code == 1
    assert f"no sandbox wiki in {nowhere}" in refused.output
    assert f"constellate sandbox wiki --dir {nowhere}" in refused.output


def local_users(wiki: SessionWiki, names: set[str]) -> dict[str, dict[str, Any]]:
    """The wiki's accounts of these names (an unknown name is "missing")."""
    answer = requests.get(
        wiki.api,
        params={
            "action": "query",
            "list": "users",
            "ususers": "|".join(sorted(names)),
            "usprop": "editcount|registration",
            "format": "json",
        },
        timeout=10,
    ).json()
    users = {user["name"]: user for user in answer["query"]["users"]}
    assert not any("missing" in user for user in users.values()), users
    return users


def category_members(wiki: SessionWiki, category: str) -> set[str]:
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
