"""Pulse per beat, leadership rotation and wiki freshness, worked out by hand."""

from __future__ import annotations

import math

import pytest

from community.health.conversation import LeadChange, PageEdit
from community.health.metrics import freshness, leadership, pulse
from tests.community.health.conversations import Conversation, at, window

MONTH = window(30, 30)  # [day 0, day 30)


def posts_on(days: list[float]) -> Conversation:
    """One topic with a counted post at each of ``days`` (hours as fractions of days)."""
    talk = Conversation()
    topic = talk.topic("alice", at(days[0]))
    for day in days[1:]:
        talk.reply(topic, "bob", at(day))
    return talk


def test_pulse_drops_the_partial_oldest_beat_and_counts_an_empty_beat_as_missed() -> None:
    # 30 // 7 = 4 weekly beats back from day 30: [2, 9), [9, 16), [16, 23), [23, 30);
    # days 0 and 1 are a partial beat, dropped.
    talk = posts_on([0, 1.5, 2, 3, 5, 8.99, 9, 15, 16, 17, 18, 19, 20, 22.9])
    talk.reply(1, "gaugebot", at(25))  # a bot: the last beat stays empty
    talk.reply(1, "carol", at(30))  # at the window's end: not seen
    figures = pulse(talk.posts(), MONTH, 7, 0.25)
    # Beats [4, 2, 6, 0]: mean 3, population variance (1 + 1 + 9 + 9) / 4 = 5.
    # Beat 3: 0 < 0.25 * median(4, 2, 6) = 1 -> missed.
    assert figures == {
        "beat_days": 7,
        "beats": [4, 2, 6, 0],
        "cv": pytest.approx(math.sqrt(5) / 3),
        "missed": 1,
        "last_beat": 0,
    }


def test_pulse_missed_beats_need_three_earlier_beats_and_a_median_above_zero() -> None:
    # Monthly beats over 150 days from day 0: [0, 30), [30, 60), ... [120, 150).
    talk = posts_on([1, 2, 31, 32, 61, 62, 63, 100])
    figures = pulse(talk.posts(), window(150, 150), 30, 0.5)
    # Beats [2, 2, 3, 1, 0]. Beat 3: median(2, 2, 3) = 2, 1 < 0.5 * 2 = 1? no.
    # Beat 4: median(2, 2, 3, 1) = 2, 0 < 1 -> missed.
    # Mean 8/5 = 1.6; variance (0.16 + 0.16 + 1.96 + 0.36 + 2.56) / 5 = 1.04.
    assert figures["beats"] == [2, 2, 3, 1, 0]
    assert figures["missed"] == 1
    assert figures["cv"] == pytest.approx(math.sqrt(1.04) / 1.6)
    quiet = pulse([], window(150, 150), 30, 0.5)
    # No posts: the median before each beat is 0, so nothing is missed; the mean is 0.
    assert (quiet["beats"], quiet["missed"], quiet["cv"]) == ([0] * 5, 0, None)


def test_pulse_with_fewer_than_three_beats_or_none() -> None:
    two = pulse(posts_on([1, 20]).posts(), MONTH, 14, 0.25)
    # 30 // 14 = 2 beats: [2, 16), [16, 30); day 1 is in the dropped partial beat.
    assert two == {"beat_days": 14, "beats": [0, 1], "cv": None, "missed": 0, "last_beat": 1}
    none = pulse(posts_on([1]).posts(), window(7, 7), 30, 0.25)  # 7 // 30 = 0 beats
    assert none == {"beat_days": 30, "beats": [], "cv": None, "missed": 0, "last_beat": None}
    with pytest.raises(ValueError, match="beat_days must be at least 1, got 0"):
        pulse([], MONTH, 0, 0.25)


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
