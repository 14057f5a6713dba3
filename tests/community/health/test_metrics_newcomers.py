"""Newcomers answered within 48 hours and back within 30 days, worked out by hand."""

from __future__ import annotations

from community.health.conversation import History, Post
from community.health.metrics import newcomers
from tests.community.health.conversations import Conversation, at, person, window

QUARTER = window(100, 90)  # [day 10, day 100); 30 days before the end is day 70


def first_post(posts: list[Post], username: str) -> Post:
    return next(post for post in posts if post.author == person(username))


def history(posts: list[Post], username: str, second_day: float | None = None) -> History:
    """``username``'s history: their first counted post here, then ``second_day``."""
    first = first_post(posts, username)
    second = None if second_day is None else at(second_day)
    return History(first_post_id=first.post_id, first_at=first.created_at, second_at=second)


def figures(posts: list[Post], histories: dict[str, History]) -> dict[str, object]:
    return newcomers(posts, QUARTER, histories, answer_hours=48, return_days=30)


def test_a_newcomer_opening_a_topic_is_answered_by_its_first_response_in_time() -> None:
    talk = Conversation()
    nina = talk.topic("nina", at(20))
    talk.reply(nina, "nina", at(20, 1))  # her own reply does not answer her
    talk.reply(nina, "bob", at(21, 23))  # 47 hours later
    late = talk.topic("olga", at(22))
    talk.reply(late, "bob", at(24, 1))  # 49 hours later: too late
    posts = talk.posts()
    result = figures(posts, {"nina": history(posts, "nina"), "olga": history(posts, "olga")})
    assert (result["newcomers"], result["answered"], result["answered_rate"]) == (2, 1, 1 / 2)


def test_a_newcomer_whose_first_post_is_a_reply_is_answered_by_a_later_post() -> None:
    talk = Conversation()
    topic = talk.topic("bob", at(30))
    talk.reply(topic, "omar", at(31))
    talk.reply(topic, "carol", at(31, 5))  # after omar's: answers him
    talk.reply(topic, "pia", at(32))  # carol's post came before pia's
    talk.reply(topic, "gaugebot", at(32, 1))  # a bot does not answer
    talk.reply(topic, "bob", at(34, 1))  # 49 hours after pia's: too late
    posts = talk.posts()
    result = figures(posts, {"omar": history(posts, "omar"), "pia": history(posts, "pia")})
    assert (result["newcomers"], result["answered"]) == (2, 1)


def test_a_post_at_the_same_moment_answers_only_with_a_higher_number() -> None:
    talk = Conversation()
    before = talk.topic("bob", at(49))
    talk.reply(before, "bob", at(50))  # number 2, same moment as uma's, lower number
    talk.reply(before, "uma", at(50))  # number 3
    after = talk.topic("bob", at(49))
    talk.reply(after, "vic", at(50))  # number 2
    talk.reply(after, "bob", at(50))  # number 3, same moment: after vic's
    posts = talk.posts()
    result = figures(posts, {"uma": history(posts, "uma"), "vic": history(posts, "vic")})
    assert (result["newcomers"], result["answered"]) == (2, 1)


def test_second_contribution_within_30_days_of_newcomers_old_enough() -> None:
    talk = Conversation()
    for username, day in [("nina", 20), ("omar", 40), ("pia", 50), ("uma", 70), ("quin", 80)]:
        talk.topic(username, at(day))
    posts = talk.posts()
    histories = {
        "nina": history(posts, "nina", second_day=45),  # 25 days later: returned
        "omar": history(posts, "omar"),  # never again
        "pia": history(posts, "pia", second_day=81),  # 31 days later: too late
        "uma": history(posts, "uma", second_day=100),  # exactly 30 days: returned
        "quin": history(posts, "quin", second_day=81),  # day 80 > day 70: too young
    }
    assert figures(posts, histories) == {
        "newcomers": 5,
        "answered": 0,
        "answered_rate": 0.0,
        "eligible_return": 4,  # first posts on days 20, 40, 50, 70 <= day 70
        "returned": 2,  # nina and uma
        "return_rate": 2 / 4,
    }


def test_only_first_posts_seen_in_the_window_make_newcomers() -> None:
    talk = Conversation()
    talk.topic("rae", at(5))  # before the window
    talk.topic("tess", at(100))  # at the window's end: not seen
    posts = talk.posts()
    histories = {
        "rae": history(posts, "rae"),
        "tess": history(posts, "tess"),
        "sam": History(first_post_id=999, first_at=at(50), second_at=None),  # elsewhere
    }
    assert figures(posts, histories) == {
        "newcomers": 0,
        "answered": 0,
        "answered_rate": None,
        "eligible_return": 0,
        "returned": 0,
        "return_rate": None,
    }
