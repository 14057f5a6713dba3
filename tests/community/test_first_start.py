"""The service's first start on a community with a past (issue 23), against a real wiki
and the forum sandbox: the backfill it runs by itself through the inbox ends with every
constellation's wiki section showing that past (discussions, participants, credit and
health), not waiting for the next post in each category."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from community.backfill.handlers import first_start_event
from community.bot_section import BEGIN, END
from core import clock, inbox
from sandbox.example_data import EXAMPLE
from service.worker import Worker
from tests.conftest import SessionWiki, served_wiki
from tests.example_support import seeded_example

TITLES = [c.name for c in EXAMPLE.constellations]


@pytest.fixture(scope="module")
def example_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    """A wiki of its own: the example's pages must not exist before the seed makes them."""
    yield from served_wiki(tmp_path_factory.mktemp("first-start-wiki"))


def sections(wiki: SessionWiki) -> dict[str, str]:
    pages = wiki.bot().read_pages(TITLES)
    return {title: pages[title].text.split(BEGIN, 1)[1].split(END, 1)[0] for title in TITLES}


def test_the_first_start_leaves_every_section_full(
    example_wiki: SessionWiki, tmp_path: Path
) -> None:
    now = clock.now().replace(second=0, microsecond=0)
    with seeded_example(example_wiki, tmp_path, now) as seeded:
        # The first sync wrote the sections before any history was read.
        assert all("* No discussions yet." in text for text in sections(example_wiki).values())
        with seeded.store.session() as session:
            first = first_start_event(session, seeded.settings, clock.now())
            assert first is not None
            inbox.record(session, first)
        worker = Worker(seeded.store, seeded.settings, sleep=lambda _seconds: None)
        while worker.run_once():
            pass

        for title, text in sections(example_wiki).items():
            assert "* No discussions yet." not in text, title
            assert "* No one yet." not in text, title
            assert "* No credited contributors yet." not in text, title
            credits = text.split("=== Credits ===", 1)[1].split("=== Health ===", 1)[0]
            assert credits.count("\n* ") >= 2, (title, credits)
            health = text.split("=== Health ===", 1)[1]
            assert "topics started" in health, (title, health)
        with seeded.store.session() as session:
            assert first_start_event(session, seeded.settings, clock.now()) is None
