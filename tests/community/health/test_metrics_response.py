"""Time to first response, unanswered rate, two-way ratio, announcements and replies from
the edge, on
hand-built conversations with the expected figures worked out by hand."""

from __future__ import annotations

import pytest

from community.health.metrics import (
    announcements,
    edge_replies,
    first_response,
    nearest_rank,
    two_way,
    unanswered,
)
from tests.community.health.conversations import Conversation, at, people, person, window

MONTH = window(30, 30)  # [day 0, day 30)


def test_own_bot_and_our_replies_do_not_end_the_wait() -> None:
    talk = Conversation()
    topic = talk.topic("alice", at(1, 0))
    talk.reply(topic, "alice", at(1, 1))  # the author's own reply
    talk.reply(topic, "gaugebot", at(1, 2))  # a bot
    talk.reply(topic, "constellate-bot", at(1, 3))  # our own account
    talk.reply(topic, "System", at(1, 4))  # matched casefolded
    talk.reply(topic, "bob", at(1, 6))
    figures = first_response(talk.posts(), MONTH)
    # bob's reply at hour 6 is the first that counts: 6 - 0 = 6 hours.
    assert figures == {
        "topics": 1,
        "answered": 1,
        "unanswered": 0,
        "median_hours": 6.0,
        "p90_hours": 6.0,
        "km_median_hours": 6.0,  # one topic, answered: the same
        "km_p90_hours": 6.0,
    }


def test_a_deleted_first_reply_no_longer_counts_and_the_next_one_does() -> None:
    talk = Conversation()
    topic = talk.topic("alice", at(2, 0))
    talk.reply(topic, "bob", at(2, 1), deleted=True)
    talk.reply(topic, "carol", at(2, 5))
    figures = first_response(talk.posts(), MONTH)
    assert (figures["answered"], figures["median_hours"]) == (1, 5.0)  # carol: 5 - 0


def test_hidden_posts_whispers_and_small_actions_leave_a_topic_unanswered() -> None:
    talk = Conversation()
    topic = talk.topic("alice", at(3, 0))
    talk.reply(topic, "bob", at(3, 1), hidden=True)
    talk.reply(topic, "carol", at(3, 2), post_type=4)  # whisper
    talk.reply(topic, "dave", at(3, 3), post_type=3)  # small action ("closed this topic")
    figures = first_response(talk.posts(), MONTH)
    # Still counted as a topic, in "unanswered": not dropped; censored at its age (27
    # days), so with the silence counted no quantile is reached either.
    assert figures == {
        "topics": 1,
        "answered": 0,
        "unanswered": 1,
        "median_hours": None,
        "p90_hours": None,
        "km_median_hours": None,
        "km_p90_hours": None,
    }


def test_private_messages_and_topics_opened_by_a_bot_are_not_topics() -> None:
    talk = Conversation()
    message = talk.topic("alice", at(4, 0), private=True)
    talk.reply(message, "bob", at(4, 1), private=True)
    by_bot = talk.topic("gaugebot", at(5, 0))
    talk.reply(by_bot, "alice", at(5, 1))
    assert first_response(talk.posts(), MONTH)["topics"] == 0


def test_a_linked_account_of_the_author_does_not_end_the_wait() -> None:
    talk = Conversation()
    topic = talk.topic("alice", at(6, 0))
    talk.reply(topic, "alice-wiki", at(6, 1))  # alice's other account
    talk.reply(topic, "bob", at(6, 3))
    who = people(linked={"alice-wiki": "alice"})
    assert first_response(talk.posts(who), MONTH)["median_hours"] == 3.0  # bob: 3 - 0


def test_median_and_p90_are_nearest_rank_over_the_answered_topics() -> None:
    talk = Conversation()
    for day, wait in enumerate([4, 1, 10, 2, 3], start=1):
        topic = talk.topic("alice", at(day, 0))
        talk.reply(topic, "bob", at(day, wait))
    talk.topic("alice", at(9, 0))  # never answered
    figures = first_response(talk.posts(), MONTH)
    # Sorted waits [1, 2, 3, 4, 10]: median rank ceil(0.5 * 5) = 3 -> 3;
    # p90 rank ceil(0.9 * 5) = 5 -> 10.
    # Silence counted (the day-9 topic censored at 21 days = 504 h; 6 at risk first):
    # S(1) = 5/6, S(2) = 5/6 * 4/5 = 2/3, S(3) = 2/3 * 3/4 = 1/2 -> median 3;
    # S(4) = 1/2 * 2/3 = 1/3, S(10) = 1/3 * 1/2 = 1/6 > 1/10 and no later answer:
    # the 90th percentile is not reached.
    assert figures == {
        "topics": 6,
        "answered": 5,
        "unanswered": 1,
        "median_hours": 3.0,
        "p90_hours": 10.0,
        "km_median_hours": 3.0,
        "km_p90_hours": None,
    }


def test_nearest_rank_uses_whole_number_ranks() -> None:
    values = [float(v) for v in range(70, 0, -1)]  # 1..70, unsorted
    # Rank ceil(0.9 * 70) = 63 -> 63 (an interpolated percentile would give 63.1).
    assert nearest_rank(values, 90) == 63.0
    assert nearest_rank(values[:3], 90) == 70.0  # 68, 69, 70: rank ceil(2.7) = 3
    assert nearest_rank(values[:10], 50) == 65.0  # 61..70: rank ceil(5) = 5 -> 65
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError, match=r"percentile must be in 1\.\.100, got 0"):
        nearest_rank(values, 0)


def test_posts_at_or_after_the_window_end_are_not_seen() -> None:
    talk = Conversation()
    late = talk.topic("alice", at(29, 20))
    talk.reply(late, "bob", at(30, 0))  # exactly at the end: not seen
    talk.topic("carol", at(30, 0))  # starts at the end: not in the window
    early = talk.topic("dave", at(-1, 0))  # before the window
    talk.reply(early, "bob", at(1, 0))
    # The late topic is censored at its age, 4 hours: answered after the end is not seen.
    assert first_response(talk.posts(), MONTH) == {
        "topics": 1,
        "answered": 0,
        "unanswered": 1,
        "median_hours": None,
        "p90_hours": None,
        "km_median_hours": None,
        "km_p90_hours": None,
    }


def test_unanswered_after_48_hours_counts_only_topics_old_enough() -> None:
    talk = Conversation()
    in_time = talk.topic("alice", at(10, 0))
    talk.reply(in_time, "bob", at(10, 47))
    too_late = talk.topic("alice", at(11, 0))
    talk.reply(too_late, "bob", at(11, 49))
    talk.topic("alice", at(12, 0))  # never answered
    just_in_time = talk.topic("alice", at(13, 0))
    talk.reply(just_in_time, "bob", at(13, 48))  # exactly 48 hours: answered in time
    talk.topic("alice", at(28, 0))  # exactly 48 hours before the end: eligible
    talk.topic("alice", at(28, 1))  # 47 hours old: may still be answered
    figures = unanswered(talk.posts(), MONTH, 48)
    # Eligible: days 10, 11, 12, 13, 28 = 5; unanswered: days 11, 12, 28 = 3.
    assert figures == {"hours": 48, "eligible": 5, "unanswered": 3, "rate": 3 / 5}


def test_unanswered_rate_is_undefined_without_eligible_topics() -> None:
    assert unanswered([], MONTH, 48) == {
        "hours": 48,
        "eligible": 0,
        "unanswered": 0,
        "rate": None,
    }
    talk = Conversation()
    talk.topic("alice", at(29, 0))  # only 24 hours old
    assert unanswered(talk.posts(), MONTH, 48)["rate"] is None


def test_two_way_counts_authors_who_wrote_again_after_the_first_response() -> None:
    talk = Conversation()
    returned = talk.topic("alice", at(1, 0))
    talk.reply(returned, "bob", at(1, 2))
    talk.reply(returned, "alice", at(1, 3))
    only_before = talk.topic("alice", at(2, 0))
    talk.reply(only_before, "alice", at(2, 1))  # before anyone answered
    talk.reply(only_before, "bob", at(2, 2))
    after_end = talk.topic("alice", at(29, 0))
    talk.reply(after_end, "bob", at(29, 2))
    talk.reply(after_end, "alice", at(30, 1))  # after the window's end: not seen
    talk.topic("alice", at(3, 0))  # unanswered: not in either count
    same_time = talk.topic("alice", at(4, 0))
    talk.reply(same_time, "bob", at(4, 2))
    talk.reply(same_time, "alice", at(4, 2))  # same moment, later post number: after
    linked = talk.topic("carol", at(5, 0))
    talk.reply(linked, "bob", at(5, 1))
    talk.reply(linked, "carol-wiki", at(5, 2))  # carol's other account
    figures = two_way(talk.posts(people(linked={"carol-wiki": "carol"})), MONTH)
    # Answered: days 1, 2, 29, 4, 5 = 5; the author came back on days 1, 4, 5 = 3.
    assert figures == {"answered": 5, "op_returned": 3, "ratio": 3 / 5}


def test_two_way_ratio_is_undefined_without_answered_topics() -> None:
    talk = Conversation()
    talk.topic("alice", at(1, 0))
    assert two_way(talk.posts(), MONTH) == {"answered": 0, "op_returned": 0, "ratio": None}


def test_replies_from_the_edge_to_the_centre() -> None:
    centre = {person("steward"), person("lead")}
    talk = Conversation()
    old = talk.topic("steward", at(-5, 0))  # before the window
    talk.reply(old, "edge1", at(-4, 0))  # before the window: not counted
    talk.reply(old, "edge2", at(2, 0), to=1)  # in the window, to an older post: counted
    news = talk.topic("steward", at(1, 0))
    talk.reply(news, "edge1", at(1, 1))  # no target named: the first post (steward's)
    talk.reply(news, "lead", at(1, 2))  # centre to centre
    talk.reply(news, "steward", at(1, 3))  # to oneself: left out
    talk.reply(news, "edge2", at(1, 4), to=2)  # to edge1: not to the centre
    question = talk.topic("edge1", at(3, 0))
    talk.reply(question, "steward", at(3, 1))  # to the edge: not counted here
    talk.reply(question, "edge2", at(3, 2), to=2)  # to the steward's reply
    gone = talk.reply(question, "steward", at(3, 3), deleted=True)
    talk.reply(question, "edge1", at(3, 4), to=gone)  # its target is not counted
    by_bot = talk.topic("gaugebot", at(4, 0))
    talk.reply(by_bot, "edge1", at(4, 1))  # the bot's post is not counted
    talk.reply(news, "edge1", at(30, 0))  # at the end: not seen
    figures = edge_replies(talk.posts(), MONTH, centre)
    # To the centre: edge2 (day 2), edge1 and lead (day 1), edge2 (day 3) = 4;
    # of those from the edge: all but lead's = 3.
    assert figures == {"replies_to_centre": 4, "from_edge": 3, "ratio": 3 / 4}


def test_replies_from_the_edge_are_undefined_without_replies_to_the_centre() -> None:
    talk = Conversation()
    topic = talk.topic("edge1", at(1, 0))
    talk.reply(topic, "edge2", at(1, 1))
    figures = edge_replies(talk.posts(), MONTH, {person("steward")})
    assert figures == {"replies_to_centre": 0, "from_edge": 0, "ratio": None}


def test_announcements_answered_from_the_edge_in_time() -> None:
    centre = {person("steward"), person("lead")}
    who = people(linked={"steward-wiki": "steward"})
    talk = Conversation()
    in_time = talk.topic("steward", at(1, 0))
    talk.reply(in_time, "edge1", at(4, 0))  # exactly 72 hours later: in time
    too_late = talk.topic("lead", at(2, 0))
    talk.reply(too_late, "lead", at(2, 1))  # the centre itself does not answer
    talk.reply(too_late, "steward-wiki", at(2, 2))  # the steward's other account: centre
    talk.reply(too_late, "edge2", at(5, 1))  # 73 hours: too late
    not_counted = talk.topic("steward", at(3, 0))
    talk.reply(not_counted, "gaugebot", at(3, 1))  # a bot
    talk.reply(not_counted, "edge1", at(3, 2), deleted=True)
    talk.topic("edge1", at(4, 0))  # the edge's own topic: no announcement
    young = talk.topic("steward", at(28, 0))  # 48 hours old: counted, not judged yet
    talk.reply(young, "edge1", at(28, 1))
    before = talk.topic("steward", at(-2, 0))  # before the window
    talk.reply(before, "edge1", at(-2, 1))
    to_a_reply = talk.topic("lead", at(10, 0))
    talk.reply(to_a_reply, "steward", at(10, 1))
    talk.reply(to_a_reply, "edge2", at(10, 5), to=2)  # answering the steward's reply
    figures = announcements(talk.posts(who), MONTH, centre, 72)
    # Announcements: days 1, 2, 3, 28, 10 = 5; at least 72 hours old: all but day 28 = 4;
    # answered from the edge in time: days 1 and 10 = 2.
    assert figures == {
        "hours": 72,
        "announcements": 5,
        "eligible": 4,
        "answered_from_edge": 2,
        "rate": 2 / 4,
    }


def test_announcements_are_undefined_without_any_old_enough() -> None:
    talk = Conversation()
    talk.topic("edge1", at(1, 0))
    talk.topic("steward", at(29, 0))  # 24 hours old
    expected = {"hours": 72, "eligible": 0, "answered_from_edge": 0, "rate": None}
    assert announcements(talk.posts(), MONTH, {person("steward")}, 72) == {
        **expected,
        "announcements": 1,
    }
    # A category has no centre: nothing is an announcement.
    assert announcements(talk.posts(), MONTH, set(), 72) == {**expected, "announcements": 0}
