"""Participants, Gini, the core/regular/casual onion, absence and elephant factors, on
hand-built conversations with the expected figures worked out by hand."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from community.health.metrics import concentration, gini, participation
from tests.community.health.conversations import Conversation, at, people, window

MONTH = window(30, 30)  # [day 0, day 30)


def with_counts(counts: Mapping[str, int]) -> Conversation:
    """One topic in which each person writes their number of posts (the first person
    opens it), one post an hour from day 1."""
    talk = Conversation()
    topic = None
    hour = 0
    for username, count in counts.items():
        for _ in range(count):
            if topic is None:
                topic = talk.topic(username, at(1, hour))
            else:
                talk.reply(topic, username, at(1, hour))
            hour += 1
    return talk


def test_gini_by_hand() -> None:
    # [1, 1, 4]: 2 * (1*1 + 2*1 + 3*4) / (3 * 6) - 4/3 = 30/18 - 24/18 = 1/3.
    assert gini([4, 1, 1]) == pytest.approx(1 / 3)
    assert gini([2, 2, 2]) == pytest.approx(0.0)  # 2 * (2+4+6) / (3*6) - 4/3 = 0
    assert gini([5]) is None  # one participant: undefined
    assert gini([]) is None


def test_participation_counts_people_and_posts_in_the_window() -> None:
    talk = with_counts({"alice": 4, "bob": 1, "carol": 1})
    talk.reply(1, "gaugebot", at(2, 0))  # a bot: not a participant
    talk.reply(1, "dave", at(2, 1), deleted=True)  # deleted: not a participant
    talk.reply(1, "erin", at(30, 0))  # at the window's end: not seen
    talk.reply(1, "frank", at(-1, 0))  # before the window
    figures = participation(talk.posts(), MONTH)
    # Counts [4, 1, 1], total 6. Gini 1/3 (above). Onion: 80 % of 6 = 4.8; alice 4,
    # + bob 5 reaches it; carol ties bob (1 post) so she joins the core too.
    assert figures == {
        "posts": 6,
        "participants": 3,
        "gini": pytest.approx(1 / 3),
        "core": 1.0,
        "regular": 0.0,
        "casual": 0.0,
    }


def test_two_linked_accounts_are_one_participant() -> None:
    talk = with_counts({"alice": 2, "alice-wiki": 2, "bob": 1})
    figures = participation(talk.posts(people(linked={"alice-wiki": "alice"})), MONTH)
    # alice 2 + 2 = 4, bob 1: 2 * (1*1 + 2*4) / (2 * 5) - 3/2 = 18/10 - 15/10 = 0.3.
    assert (figures["participants"], figures["posts"]) == (2, 5)
    assert figures["gini"] == pytest.approx(0.3)


def test_onion_ties_at_the_core_boundary_go_to_the_core() -> None:
    counts = {"p1": 10, "p2": 10, "p3": 8, "p4": 4, "p5": 4, "p6": 2, "p7": 1}
    figures = participation(with_counts(counts).posts(), MONTH)
    # Total 39. 80 % = 31.2: 10, 20, 28, 32 reaches it at p4; p5 ties p4 (4) -> core 5.
    # 95 % = 37.05: 36 + p6 = 38 reaches it -> regular 1; p7 (1) is casual.
    assert figures["core"] == 5 / 7
    assert figures["regular"] == 1 / 7
    assert figures["casual"] == 1 / 7


def test_onion_ties_at_the_regular_boundary_go_to_the_regular() -> None:
    counts = {"p1": 16, "p2": 2, "p3": 1, "p4": 1, "p5": 1}
    figures = participation(with_counts(counts).posts(), MONTH)
    # Total 21. 80 % = 16.8: 16, 18 -> core 2 (p3 has 1, not 2).
    # 95 % = 19.95: 19, 20 reaches it at p4; p5 ties p4 (1) -> regular 3, casual 0.
    assert figures["core"] == 2 / 5
    assert figures["regular"] == 3 / 5
    assert figures["casual"] == 0.0


def test_participation_without_posts_is_undefined_not_zero() -> None:
    assert participation([], MONTH) == {
        "posts": 0,
        "participants": 0,
        "gini": None,
        "core": None,
        "regular": None,
        "casual": None,
    }


def test_absence_and_elephant_factors_leave_people_without_organisation_out() -> None:
    talk = with_counts({"alice": 4, "bob": 2, "carol": 1, "dave": 3})
    who = people(organisations={"alice": "acme", "bob": "harbour", "carol": "harbour"})
    figures = concentration(talk.posts(who), MONTH)
    # People [4, 3, 2, 1] of 10: 4 < 5, 4 + 3 = 7 >= 5 -> absence factor 2.
    # Organisations: acme 4, harbour 2 + 1 = 3, of 7 (dave's 3 left out):
    # 4 >= 3.5 -> elephant factor 1 (counting dave's posts it would be 4 < 5 -> 2).
    assert figures == {
        "absence_factor": 2,
        "elephant_factor": 1,
        "posts_without_organisation": 3,
    }


def test_a_person_carrying_half_the_posts_alone_is_an_absence_factor_of_one() -> None:
    talk = with_counts({"alice": 3, "bob": 1, "carol": 1, "dave": 1})
    figures = concentration(talk.posts(), MONTH)
    # 3 of 6 is exactly half. Nobody has an organisation: elephant factor undefined.
    assert figures == {
        "absence_factor": 1,
        "elephant_factor": None,
        "posts_without_organisation": 6,
    }


def test_elephant_factor_needs_several_organisations_when_posts_are_spread() -> None:
    talk = with_counts({"alice": 3, "bob": 3, "carol": 2, "dave": 2})
    who = people(organisations={"alice": "a", "bob": "b", "carol": "c", "dave": "d"})
    figures = concentration(talk.posts(who), MONTH)
    # [3, 3, 2, 2] of 10: 3 < 5, 6 >= 5 -> 2, for people and organisations alike.
    assert (figures["absence_factor"], figures["elephant_factor"]) == (2, 2)


def test_concentration_without_posts() -> None:
    assert concentration([], MONTH) == {
        "absence_factor": None,
        "elephant_factor": None,
        "posts_without_organisation": 0,
    }
