"""The Sync page and /api/v1/sync show the forum budget every process spends from: used
and left in the last minute, work waiting by priority, the forum's 429s and the pause one
asks for. On SQLite and PostgreSQL, with one fake clock for the app and the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest

from core.forum_budget import Budget
from core.forum_budget_ledgers import budget_for
from tests.budget_support import PAUSE, SPENT, spend, while_waiting
from tests.clocks import FakeClock, chosen
from tests.dashboards.html_page import Page, validate
from tests.dashboards.sync_site import Site

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITED = "rate-limited answers (429) from the forum so far"
UNUSED = [
    ["Moderators' actions", "0", "0"],
    ["Sync writes", "0", "0"],
    ["Wiki section refreshes", "0", "0"],
    ["Scans and backfills", "0", "0"],
]


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


@pytest.fixture
def site(store_url: str, clock: FakeClock) -> Iterator[Site]:
    made = Site(store_url, clock=clock)
    yield made
    made.store.dispose()


def app_budget(site: Site) -> Budget:
    """The budget the app's requests and its workers spend from, at the forum's default
    limit (60 a minute, half of it Constellate's)."""
    return budget_for(site.settings, site.store)


def shown(site: Site) -> tuple[list[str], list[list[str]]]:
    """The page's figures for the last minute, one line each, and its rows by priority
    (work, used, waiting)."""
    html = site.page()
    match = re.search(r'<ul class="counts budget-minute">(.*?)</ul>', html, re.S)
    assert match is not None
    lines = re.findall(r"<li>(.*?)</li>", match.group(1), re.S)
    texts = [" ".join(unescape(re.sub(r"<[^>]+>", " ", line)).split()) for line in lines]
    return texts, Page(html).body("budget-priorities")


def api_budget(site: Site) -> dict[str, Any]:
    response = site.client.get("/api/v1/sync")
    assert response.status_code == 200
    body = response.get_json()
    validate(body, "/sync")
    budget: dict[str, Any] = body["forum_budget"]
    return budget


def test_an_unused_budget(site: Site) -> None:
    assert shown(site) == (["0 used of 30", "30 left", f"0 {LIMITED}", "not paused"], UNUSED)
    assert "the 60 requests a minute the forum allows" in site.page()
    assert api_budget(site) == {
        "per_minute": 60,
        "allowed": 30,
        "used": 0,
        "left": 30,
        "used_by_priority": {"moderator": 0, "sync": 0, "section": 0, "scan": 0},
        "waiting_by_priority": {"moderator": 0, "sync": 0, "section": 0, "scan": 0},
        "rate_limited": 0,
        "paused_seconds": 0.0,
    }


def test_spent_waiting_and_paused(site: Site, clock: FakeClock) -> None:
    budget = app_budget(site)
    spend(budget, SPENT)
    budget.pause(PAUSE)  # the forum answered 429: every process waits 45 s

    # A scan's request waits out the pause; meanwhile the page shows it waiting.
    lines, rows = while_waiting(budget, clock, "scan", lambda: shown(site))
    assert lines == ["6 used of 30", "24 left", f"1 {LIMITED}", "paused after a 429, for 45 s more"]
    assert rows == [
        ["Moderators' actions", "3", "0"],
        ["Sync writes", "2", "0"],
        ["Wiki section refreshes", "1", "0"],
        ["Scans and backfills", "0", "1"],
    ]

    # 45 s later the scan has its place; another 429, and a section refresh waits it out.
    assert clock.now == T0 + timedelta(seconds=PAUSE)
    budget.pause(PAUSE)
    assert while_waiting(budget, clock, "section", lambda: api_budget(site)) == {
        "per_minute": 60,
        "allowed": 30,
        "used": 7,
        "left": 23,
        "used_by_priority": {"moderator": 3, "sync": 2, "section": 1, "scan": 1},
        "waiting_by_priority": {"moderator": 0, "sync": 0, "section": 1, "scan": 0},
        "rate_limited": 2,
        "paused_seconds": PAUSE,
    }

    # 90 s after the first six they have left the window: the two that waited are left.
    lines, rows = shown(site)
    assert lines == ["2 used of 30", "28 left", f"2 {LIMITED}", "not paused"]
    assert rows == [
        ["Moderators' actions", "0", "0"],
        ["Sync writes", "0", "0"],
        ["Wiki section refreshes", "1", "0"],
        ["Scans and backfills", "1", "0"],
    ]


def test_a_spent_budget_is_marked(site: Site) -> None:
    spend(app_budget(site), {"sync": 30})
    lines, _rows = shown(site)
    assert lines[:2] == ["30 used of 30", "0 left"]
    assert '<span class="badge warn">0</span> left' in site.page()
