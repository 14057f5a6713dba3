"""The poll is the feed's safety net: a change whose message was lost is found by the next
poll, counted as a gap and recorded; a change still young may be on its way, so it is
recorded without being called a gap."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import using
from tests.clocks import FakeClock
from tests.conftest import SessionWiki
from tests.webhooks.wiki_feed_support import (
    T0,
    feed_settings,
    feed_uri,
    gap_count,
    new_store,
    rows_about,
    served_with_feed,
    wait_until,
)
from webhooks.incoming.wiki_feed import listening
from webhooks.incoming.wiki_poll import FEED_GRACE_SECONDS, poll_wiki


def nobody_listens() -> str:
    """A UDP address whose datagrams are lost: bound by nobody."""
    return feed_uri("udp")


def test_a_lost_push_is_found_by_the_next_poll_counted_as_a_gap_and_recorded(
    wiki: SessionWiki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feed = feed_uri("udp")
    settings = feed_settings(wiki, feed)
    store = new_store(tmp_path)
    poll_wiki(store, settings, client=wiki.bot())  # the cursor: now
    lost, heard, young = (wiki.title(f"Feed {name}") for name in ("Lost", "Heard", "Young"))
    gaps_before = gap_count()

    with (
        served_with_feed(wiki, feed) as server,
        served_with_feed(wiki, nobody_listens()) as lossy,
        listening(store, settings, FakeClock(T0)) as listener,
    ):
        assert listener is not None
        wait_until(listener.ready.is_set)
        # The same wiki; this edit's message goes where nobody listens.
        missed = wiki.human(url=lossy.url).edit(lost, "Lost.", summary="create", mode="create")
        wiki.human(url=server.url).edit(heard, "Heard.", summary="create", mode="create")
        wait_until(lambda: listener.counts["recorded"] == 1)
    assert rows_about(store, lost) == [] and len(rows_about(store, heard)) == 1

    assert missed.timestamp is not None
    later = FakeClock(missed.timestamp + timedelta(minutes=1))
    with using(later), caplog.at_level(logging.WARNING, "constellate.webhooks.wiki_poll"):
        report = poll_wiki(store, settings, client=wiki.bot())

    [row] = rows_about(store, lost)
    assert report.gaps == [row.payload["rcid"]]
    assert (report.recorded, report.duplicates) == (1, 1)  # the heard one was kept once
    assert gap_count() - gaps_before == 1
    [line] = [r.getMessage() for r in caplog.records if "never came through" in r.getMessage()]
    assert line.startswith("wiki poll: 1 change(s) never came through the wiki feed")

    # A change younger than the grace may still be on its way: recorded, not a gap.
    with served_with_feed(wiki, nobody_listens()) as lossy:
        fresh = wiki.human(url=lossy.url).edit(young, "Young.", summary="create", mode="create")
    assert fresh.timestamp is not None
    soon = FakeClock(fresh.timestamp + timedelta(seconds=FEED_GRACE_SECONDS - 1))
    with using(soon):
        report = poll_wiki(store, settings, client=wiki.bot())
    assert (report.recorded, report.gaps) == (1, [])
    assert len(rows_about(store, young)) == 1
    assert gap_count() - gaps_before == 1
