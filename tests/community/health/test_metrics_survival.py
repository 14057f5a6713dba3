"""Time to first response with the silence counted: the Kaplan–Meier quantiles, worked out
by hand (docs/metrics.md has the worked example), with ties, all-answered and
all-unanswered windows."""

from __future__ import annotations

import pytest

from community.health.metrics import first_response, nearest_rank, survival_quantile
from tests.community.health.conversations import Conversation, at, window

DAY_TEN = window(10, 10)  # [day 0, day 10)


def km(figures: dict[str, object]) -> tuple[object, object]:
    return figures["km_median_hours"], figures["km_p90_hours"]


def test_the_worked_example_of_the_docs() -> None:
    talk = Conversation()
    for day, wait in ((1, 2), (2, 5), (3, 5), (4, 9)):
        topic = talk.topic("alice", at(day, 0))
        talk.reply(topic, "bob", at(day, wait))
    talk.topic("carol", at(9, 19))  # unanswered, 5 hours old at the end
    talk.topic("carol", at(8, 18))  # unanswered, 30 hours old
    figures = first_response(talk.posts(), DAY_TEN)
    # S(2) = 5/6; at 5 the topic censored at 5 is still at risk: S(5) = 5/6 * 3/5 = 1/2,
    # the median. S(9) = 1/2 * 1/2 = 1/4 and stays there: no 90th percentile.
    assert km(figures) == (5.0, None)
    # Answered only: waits 2, 5, 5, 9 -> ranks 2 and 4.
    assert (figures["median_hours"], figures["p90_hours"]) == (5.0, 9.0)


def test_a_censoring_tied_with_an_answer_is_still_at_risk_then() -> None:
    talk = Conversation()
    answered = talk.topic("alice", at(2, 0))
    talk.reply(answered, "bob", at(2, 4))
    talk.topic("carol", at(9, 20))  # unanswered, 4 hours old: censored at 4
    later = talk.topic("dave", at(3, 0))
    talk.reply(later, "bob", at(3, 6))
    figures = first_response(talk.posts(), DAY_TEN)
    # At 4: 3 at risk (the censored one too), 1 answered: S = 2/3 > 1/2. Then 1 at risk;
    # at 6: S = 0. Median and 90th percentile 6. (Had the censored topic left before the
    # answer at 4, S(4) would be 1/2 and the median 4.) Answered only: 4 and 6 -> 4, 6.
    assert km(figures) == (6.0, 6.0)
    assert (figures["median_hours"], figures["p90_hours"]) == (4.0, 6.0)


def test_answers_at_the_same_time_are_taken_together() -> None:
    talk = Conversation()
    for day in (1, 2, 3):
        topic = talk.topic("alice", at(day, 0))
        talk.reply(topic, "bob", at(day, 3))
    topic = talk.topic("alice", at(4, 0))
    talk.reply(topic, "bob", at(4, 8))
    talk.topic("carol", at(5, 0))  # unanswered, 120 hours old
    figures = first_response(talk.posts(), DAY_TEN)
    # At 3: 5 at risk, 3 answered together: S = 2/5 -> median 3. At 8: 2 at risk, 1
    # answered: S = 1/5 > 1/10, and the last topic is censored: no 90th percentile.
    assert km(figures) == (3.0, None)


def test_an_all_unanswered_window_reaches_no_quantile() -> None:
    talk = Conversation()
    for day in (1, 4, 9):
        talk.topic("alice", at(day, 0))
    figures = first_response(talk.posts(), DAY_TEN)
    assert (figures["topics"], figures["unanswered"]) == (3, 3)
    assert km(figures) == (None, None)


def test_an_empty_window_has_no_quantile() -> None:
    assert km(first_response([], DAY_TEN)) == (None, None)
    assert survival_quantile([], 50) is None


@pytest.mark.parametrize("count", range(1, 24))
def test_with_every_topic_answered_it_is_the_nearest_rank(count: int) -> None:
    # Waits with ties (each value twice or three times), in no order.
    waits = [float((7 * i) % 11 // 2 + 1) for i in range(count)]
    observed = [(wait, True) for wait in waits]
    for percent in (50, 90):
        assert survival_quantile(observed, percent) == nearest_rank(waits, percent)


def test_a_quantile_met_exactly_is_not_lost_to_rounding() -> None:
    # Ten answered: S(9) = 9/10 * 8/9 * ... * 1/2 = 1/10 exactly, the 90th percentile.
    observed = [(float(hours), True) for hours in range(1, 11)]
    assert survival_quantile(observed, 90) == 9.0
    # Censorings in between leave 2 at risk at 3.
    mixed = [(1.0, True), (1.5, False), (2.0, False), (3.0, True), (4.0, False)]
    # S(1) = 4/5; at 3, 2 at risk, 1 answered: S = 4/5 * 1/2 = 2/5 -> median 3.
    assert survival_quantile(mixed, 50) == 3.0
    assert survival_quantile(mixed, 60) == 3.0  # 2/5 <= 2/5
    assert survival_quantile(mixed, 61) is None


def test_the_percentile_must_be_in_range() -> None:
    with pytest.raises(ValueError, match=r"percentile must be in 1\.\.100, got 101"):
        survival_quantile([(1.0, True)], 101)
