"""Pulse per beat (and the missed-beat alert it raises), leadership rotation and wiki
freshness, worked out by hand."""

from __future__ import annotations

import math

import pytest

from community.health.compute import compute
from community.health.conversation import LeadChange, PageEdit, RawPost
from community.health.inputs import ScopeInputs, ScopeSpec
from community.health.metrics import freshness, leadership, pulse
from community.health.scope import CONSTELLATION
from community.health.thresholds import decide, load_thresholds
from core.config import DEFAULTS
from tests.community.health.conversations import Conversation, at, people, window

MONTH = window(30, 30)  # [day 0, day 30)
DEFAULT_SETTINGS = DEFAULTS


def constellation_spec(beat: str) -> ScopeSpec:
    charter = {"beat": beat, "status": "active", "lead_partner": "Acme", "stewards": []}
    return ScopeSpec(f"{CONSTELLATION}:7", CONSTELLATION, "Tidal", 70, charter, 7)


def inputs(rows: list[RawPost]) -> ScopeInputs:
    return ScopeInputs(rows, people(), {}, frozenset(), [], [], [], None, None)


def posts_on(days: list[float]) -> Conversation:
    """One topic with a counted post at each of ``days`` (hours as fractions of days)."""
    talk = Conversation()
    topic = talk.topic("alice", at(days[0]))
    for day in days[1:]:
        talk.reply(topic, "bob", at(day))
    return talk


def test_pulse_drops_the_partial_oldest_beat_and_counts_an_empty_beat_as_missed() -> None:
    # 50 // 7 = 7 weekly beats back from day 50: [1, 8), [8, 15), ... [43, 50); day 0.5
    # is in the partial beat before them, dropped.
    talk = posts_on([0.5, 1, 2, 3, 7.99, 8, 14.99, 15, 16, 17, 18, 19, 21.9, 22, 23, 24, 28])
    talk.reply(1, "gaugebot", at(30))  # a bot: that beat stays empty
    talk.reply(1, "carol", at(36))
    talk.reply(1, "carol", at(40))
    talk.reply(1, "carol", at(42.99))
    talk.reply(1, "carol", at(50))  # at the window's end: not seen
    figures = pulse(talk.posts(), window(50, 50), 7, 0.25)
    # Beats [4, 2, 6, 4, 0, 3, 0]. Beat 3: 4 < 0.25 * median(4, 2, 6) = 1? no.
    # Beat 4: 0 < 0.25 * 4 -> missed. Beat 5: 3 < 1? no.
    # Beat 6: 0 < 0.25 * median(0, 2, 3, 4, 4, 6) = 0.875 -> missed.
    # Mean 19/7; variance 81/7 - (19/7)^2 = 206/49; cv = (sqrt(206) / 7) / (19 / 7).
    assert figures == {
        "beat_days": 7,
        "beats": [4, 2, 6, 4, 0, 3, 0],
        "cv": pytest.approx(math.sqrt(206) / 19),
        "missed": 2,
        "last_beat": 0,
    }


def test_pulse_missed_beats_need_three_earlier_beats_and_a_median_above_zero() -> None:
    # Monthly: 150 // 30 = 5 beats, too few: six, back from day 150 to day -30.
    talk = posts_on([1, 2, 31, 32, 61, 62, 63, 100])
    figures = pulse(talk.posts(), window(150, 150), 30, 0.5)
    # Beats [0, 2, 2, 3, 1, 0]. Beat 3: median(0, 2, 2) = 2, 3 < 1? no.
    # Beat 4: median(0, 2, 2, 3) = 2, 1 < 0.5 * 2 = 1? no. Beat 5: median 2, 0 < 1: missed.
    # Mean 8/6 = 4/3; variance 18/6 - 16/9 = 11/9; cv = (sqrt(11) / 3) / (4 / 3).
    assert figures["beats"] == [0, 2, 2, 3, 1, 0]
    assert figures["missed"] == 1
    assert figures["cv"] == pytest.approx(math.sqrt(11) / 4)
    quiet = pulse([], window(150, 150), 30, 0.5)
    # No posts: the median before each beat is 0, so nothing is missed; the mean is 0.
    assert (quiet["beats"], quiet["missed"], quiet["cv"]) == ([0] * 6, 0, None)


def test_pulse_looks_back_six_beats_whatever_the_window() -> None:
    # Fortnightly in 30 days: 2 beats fit, six are judged: [-54, -40) ... [16, 30).
    two = pulse(posts_on([-41, 1, 20]).posts(), MONTH, 14, 0.25)
    assert two == {
        "beat_days": 14,
        "beats": [1, 0, 0, 1, 0, 1],
        "cv": pytest.approx(1.0),  # mean 1/2, population deviation 1/2
        "missed": 1,  # beat 4: 0 < 0.25 * median(1, 0, 0, 1) = 0.125
        "last_beat": 1,
    }
    # Monthly in 7 days: six months back from day 7; day 1 is in the last one.
    none = pulse(posts_on([1]).posts(), window(7, 7), 30, 0.25)
    assert none == {
        "beat_days": 30,
        "beats": [0, 0, 0, 0, 0, 1],
        "cv": pytest.approx(math.sqrt(5)),  # mean 1/6, deviation sqrt(5) / 6
        "missed": 0,
        "last_beat": 1,
    }
    with pytest.raises(ValueError, match="beat_days must be at least 1, got 0"):
        pulse([], MONTH, 0, 0.25)


def test_a_monthly_constellation_missing_beats_raises_the_alert() -> None:
    # Posts per month over the last six months: 3, 4, 3, 4, then two silent months. The
    # 90-day window alone holds only three monthly beats, too few to judge any.
    days: list[float] = [1, 5, 9, 31, 35, 39, 45, 61, 65, 69, 91, 95, 99, 105]
    health = compute(
        constellation_spec(beat="monthly"),
        inputs(posts_on(days).rows),
        DEFAULT_SETTINGS,
        now=at(180),
    )
    pulse_90 = health.windows[90]["pulse"]
    # Beat 4: 0 < 0.25 * median(3, 4, 3, 4) = 0.875 -> missed; beat 5: 0 < 0.25 * 3.
    assert (pulse_90["beats"], pulse_90["missed"]) == ([3, 4, 3, 4, 0, 0], 2)
    rules = load_thresholds(DEFAULT_SETTINGS).rules
    assert decide(rules["missed_beats"], health, open_alert_exists=False) == "raise"


CHANGES = [  # out of order on purpose
    LeadChange(lead="acme", at=at(70)),
    LeadChange(lead="acme", at=at(10)),
    LeadChange(lead="east", at=at(200)),  # after now: not seen
    LeadChange(lead="harbour", at=at(100)),
    LeadChange(lead="harbour", at=at(40)),
]
NOW = at(120, 12)


def test_leadership_with_the_term_overrun() -> None:
    figures = leadership(CHANGES, now=NOW, term_end=at(110).date(), terms=3)
    # Seen in order: acme 10, harbour 40, acme 70, harbour 100; the last three name
    # harbour and acme. Day 100 to day 120 noon is 20.5 days; the term ended on day 110
    # and the lead has not changed since.
    assert figures == {
        "lead": "harbour",
        "distinct_leads": 2,
        "days_since_change": 20.5,
        "terms_overrun": 1,
    }


def test_leadership_without_an_overrun() -> None:
    not_ended = leadership(CHANGES, now=NOW, term_end=at(130).date(), terms=3)
    changed_since = leadership(CHANGES, now=NOW, term_end=at(90).date(), terms=3)
    no_term = leadership(CHANGES, now=NOW, term_end=None, terms=3)
    assert [not_ended["terms_overrun"], changed_since["terms_overrun"]] == [0, 0]
    assert no_term["terms_overrun"] == 0
    # A change on the day the term ends does not renew it.
    assert leadership(CHANGES, now=NOW, term_end=at(100).date(), terms=3)["terms_overrun"] == 1


def test_leadership_counts_distinct_leads_over_the_last_terms() -> None:
    assert leadership(CHANGES, now=NOW, term_end=None, terms=1)["distinct_leads"] == 1
    assert leadership(CHANGES, now=at(250), term_end=None, terms=3) == {
        "lead": "east",
        "distinct_leads": 3,  # acme, harbour, east
        "days_since_change": 50.0,
        "terms_overrun": 0,
    }
    with pytest.raises(ValueError, match="terms must be at least 1, got 0"):
        leadership(CHANGES, now=NOW, term_end=None, terms=0)


def test_leadership_without_changes() -> None:
    expected = {"lead": None, "distinct_leads": None, "days_since_change": None, "terms_overrun": 0}
    assert leadership([], now=NOW, term_end=at(100).date(), terms=3) == expected
    future_only = [LeadChange(lead="acme", at=at(121))]
    assert leadership(future_only, now=NOW, term_end=None, terms=3) == expected


PAGES = [
    PageEdit(title="Practice:Old", last_human_edit=at(5)),  # 95 days before now
    PageEdit(title="Constellation:Food", last_human_edit=at(50)),
    PageEdit(title="Practice:Unknown", last_human_edit=None),
    PageEdit(title="Practice:Boundary", last_human_edit=at(10)),  # exactly 90 days
    PageEdit(title="A practice", last_human_edit=at(1)),
]


def forum_side() -> Conversation:
    """Ten counted posts in [day 10, day 100), and some that are not."""
    talk = posts_on([10, 20, 30, 40, 50, 60, 70, 80, 90, 99.9])
    talk.reply(1, "bob", at(9.9))  # before the 90 days
    talk.reply(1, "bob", at(100))  # at now: not in [now - 90 days, now)
    talk.reply(1, "gaugebot", at(95))  # a bot's post
    return talk


def test_stale_pages_while_the_forum_is_active() -> None:
    figures = freshness(PAGES, forum_side().posts(), now=at(100), days=90, min_posts=10)
    assert figures == {
        "active": True,
        "posts": 10,
        "stale": ["A practice", "Practice:Old"],
        "unknown": ["Practice:Unknown"],
    }


def test_no_stale_pages_while_the_forum_is_quiet_but_unknown_pages_still_listed() -> None:
    figures = freshness(PAGES, forum_side().posts(), now=at(100), days=90, min_posts=11)
    assert figures == {
        "active": False,
        "posts": 10,
        "stale": [],
        "unknown": ["Practice:Unknown"],
    }
