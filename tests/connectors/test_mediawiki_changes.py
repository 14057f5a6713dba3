"""Following the real wiki's recent changes: order, continuation, resuming, log entries."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from tests.conftest import SessionWiki


def test_changes_come_oldest_first_and_resume_after_a_cursor(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    start = bot.latest_cursor()
    assert start is not None  # the installation itself made changes
    kept, moved, gone = wiki.title("Kept"), wiki.title("Moved"), wiki.title("Gone")
    bot.edit(kept, "one", summary="create kept", mode="create")
    bot.edit(kept, "two", summary="edit kept")
    bot.edit(moved, "to be moved", summary="create moved", mode="create")
    bot.edit(gone, "to be deleted", summary="create gone", mode="create")
    admin = wiki.sandbox.admin_username
    wiki.sandbox.run_maintenance("moveBatch.php", "--u", admin, stdin=f"{moved}|{moved} (new)\n")
    wiki.sandbox.run_maintenance("deleteBatch.php", "--u", admin, "--r", "cleanup", stdin=gone)

    requests_before = sum(bot.request_counts.values())
    changes = list(bot.recent_changes(start, batch=2))
    requests_used = sum(bot.request_counts.values()) - requests_before

    # Deleting a page removes its own edits from recent changes; the log entry stays.
    assert [(c.type, c.title, c.log_type) for c in changes] == [
        ("new", kept, None),
        ("edit", kept, None),
        ("new", moved, None),
        ("log", moved, "move"),
        ("log", gone, "delete"),
    ]
    # Five changes, two a query (plus any earlier ones sharing the start's second).
    assert requests_used >= 3
    assert [c.rcid for c in changes] == sorted(c.rcid for c in changes)
    assert [c.timestamp for c in changes] == sorted(c.timestamp for c in changes)
    assert changes[0].user == "ConstellateBot" and changes[0].bot is True
    assert changes[1].comment == "edit kept"
    assert changes[1].old_revid == changes[0].revid
    assert (changes[1].old_size, changes[1].new_size) == (3, 3)
    assert changes[3].user == admin
    assert changes[3].log_params["target_title"] == f"{moved} (new)"
    assert changes[4].log_action == "delete"

    # A stored cursor resumes strictly after its change.
    assert list(bot.recent_changes(changes[1].cursor)) == changes[2:]
    assert list(bot.recent_changes(changes[-1].cursor)) == []


def test_changes_within_one_second_are_neither_lost_nor_repeated(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    start = bot.latest_cursor()
    title = wiki.title("Burst")
    for n in range(12):  # the bot writes several edits a second
        bot.edit(title, f"burst {n}", summary="burst", mode="any")
    changes = list(bot.recent_changes(start))
    assert len(changes) == 12
    same_second = [
        n for n in range(1, len(changes)) if changes[n].timestamp == changes[n - 1].timestamp
    ]
    assert same_second, "expected at least two edits within one second"
    n = same_second[0]
    # Resuming from the first of two same-second changes yields the second one, once.
    assert list(bot.recent_changes(changes[n - 1].cursor, batch=1)) == changes[n:]


def test_the_oldest_change_tells_whether_a_cursor_is_still_covered(wiki: SessionWiki) -> None:
    bot = wiki.bot()
    oldest = bot.oldest_change_timestamp()
    first = next(bot.recent_changes(None))
    assert oldest == first.timestamp
    latest = bot.latest_cursor()
    assert latest is not None
    assert list(bot.recent_changes(latest)) == []


def test_a_cursor_that_is_not_ours_is_refused(wiki: SessionWiki) -> None:
    with pytest.raises(InvalidRequest) as caught:
        list(wiki.bot().recent_changes("yesterday"))
    assert caught.value.code == "badcursor"
