"""Reading pages and page histories from the real sandbox wiki."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from connectors.mediawiki import WikiClient
from core.errors import InvalidRequest, NotFound
from tests.conftest import SessionWiki


def requests_made(client: WikiClient) -> int:
    return sum(client.request_counts.values())


@pytest.fixture(scope="module")
def many_pages(wiki: SessionWiki) -> dict[str, str]:
    """120 pages (more than two batches of 50 titles), title -> text."""
    bot = wiki.bot()
    prefix = wiki.title("Batch")
    pages = {f"{prefix} {n:03}": f"Page {n} of the batch.\n{'x' * (n + 1)}" for n in range(120)}
    for title, text in pages.items():
        bot.edit(title, text, summary="batch read fixture", mode="create")
    return pages


def test_ping_names_the_wiki_without_logging_in(wiki: SessionWiki) -> None:
    client = wiki.bot()
    info = client.ping()
    assert info["sitename"] == "Constellate Sandbox"
    assert info["generator"].startswith("MediaWiki 1.")
    assert info["server"] == wiki.url
    assert client.request_counts == {200: 1}


def test_an_account_without_high_limits_reads_120_pages_in_3_queries(
    wiki: SessionWiki, many_pages: dict[str, str]
) -> None:
    human = wiki.human()
    human.ping()
    human.read_pages([])  # logs in, so only the reads are counted below
    before = requests_made(human)
    missing = wiki.title("Never written")
    pages = human.read_pages([*many_pages, missing])
    assert requests_made(human) - before == 3  # 50 + 50 + 21 titles
    assert {title: page.text for title, page in pages.items() if page.exists} == many_pages
    assert pages[missing].exists is False
    assert pages[missing].text == ""
    assert pages[missing].revid is None


def test_the_bot_reads_120_pages_in_one_query(
    wiki: SessionWiki, many_pages: dict[str, str]
) -> None:
    bot = wiki.bot()
    bot.read_pages([])
    before = requests_made(bot)
    pages = bot.read_pages(many_pages)
    assert requests_made(bot) - before == 1  # apihighlimits: 500 titles per query
    assert list(pages) == list(many_pages)
    for title, page in pages.items():
        assert page.exists and page.title == title
        assert page.text == many_pages[title]
        assert page.pageid and page.revid
        assert page.timestamp is not None
        assert page.timestamp <= page.start_timestamp
        assert page.start_timestamp - datetime.now(UTC) < timedelta(minutes=1)


def test_titles_come_back_under_the_spelling_asked_for(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("Spelling")
    bot.edit(title, "spelled", summary="normalisation", mode="create")
    asked = title[0].lower() + title[1:].replace(" ", "_")
    pages = bot.read_pages([asked])
    assert list(pages) == [asked]
    assert pages[asked].title == title
    assert pages[asked].text == "spelled"


def test_a_long_history_is_read_whole_oldest_first(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("History")
    written = [bot.edit(title, f"version {n}", summary=f"v{n}", mode="any") for n in range(120)]
    before = requests_made(bot)
    history = list(bot.revisions(title, batch=50, with_content=True))
    assert requests_made(bot) - before == 3  # 50 + 50 + 20, continuation followed
    assert [rev.revid for rev in history] == [result.revid for result in written]
    assert [rev.text for rev in history] == [f"version {n}" for n in range(120)]
    assert [rev.comment for rev in history] == [f"v{n}" for n in range(120)]
    assert history[0].parentid == 0
    assert all(rev.parentid == prev.revid for prev, rev in itertools.pairwise(history))
    assert all(rev.user == "ConstellateBot" and rev.sha1 for rev in history)
    # Without content the bot's limit is 500 a query: one request for the lot.
    before = requests_made(bot)
    assert len([rev for rev in bot.revisions(title) if rev.text is None]) == 120
    assert requests_made(bot) - before == 1


def test_a_history_can_start_at_a_known_revision(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    title = wiki.title("From revision")
    written = [bot.edit(title, f"version {n}", summary="v", mode="any") for n in range(6)]
    later = list(bot.revisions(title, with_content=True, from_revid=written[3].revid))
    assert [rev.revid for rev in later] == [result.revid for result in written[3:]]
    assert [rev.text for rev in later] == ["version 3", "version 4", "version 5"]
    missing = (written[-1].revid or 0) + 10_000
    with pytest.raises(NotFound) as caught:  # a revision that does not exist
        list(bot.revisions(title, from_revid=missing))
    assert caught.value.code == "badid_rvstartid"


def test_the_history_of_a_missing_page_is_not_found(wiki: SessionWiki) -> None:
    with pytest.raises(NotFound) as caught:
        list(wiki.bot().revisions(wiki.title("Nobody wrote this")))
    assert caught.value.code == "missingtitle"
    assert caught.value.platform == "wiki"


def test_a_title_that_would_break_the_batch_is_refused(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    with pytest.raises(InvalidRequest) as caught:
        bot.read_pages(["Main Page", "A|B"])
    assert caught.value.code == "invalidtitle"
    assert not bot.request_counts  # refused before any request
