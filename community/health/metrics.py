"""The conversation-health figures of docs/metrics.md, as pure functions.

Each function reads the counted posts of one scope (``counted_posts``: every counted post
the caller loaded, oldest first; posts before the window may be among them) and returns
plain JSON values, since the figures are stored as JSON snapshots. Posts at or after the
window's end are never seen: the window ends now. Nothing here touches a database.
"""

from __future__ import annotations

import math
import statistics
import threading
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import accumulate, pairwise
from math import prod
from operator import attrgetter, mul
from typing import Any, NamedTuple, TypeVar

from community.health.conversation import Adoption, History, LeadChange, PageEdit, Post, Window

# A group of figures, e.g. {"topics": 4, "median_hours": 2.5}: JSON values only.
Figures = dict[str, Any]

T = TypeVar("T")
HOUR = timedelta(hours=1)
CORE_PERCENT = 80
REGULAR_PERCENT = 95
MIN_BEATS = 6  # the pulse is judged on at least this many beats, whatever their length
MISSED_AFTER = 3  # a beat is judged missed only against at least this many earlier beats


# --- shared reading of the conversation -------------------------------------------------


_last = threading.local()  # the memo of ``_shared`` (workers may run several threads)


def _shared(
    view: Callable[[Sequence[Post], Window], T], *, by_end: bool = False
) -> Callable[[Sequence[Post], Window], T]:
    """Compute a view of the conversation once per (posts, window): every metric of a
    scope reads the same views, and rebuilding them per metric costs most of the time.
    Only the latest conversation is kept (by identity: the caller passes one list).
    ``by_end``: the view depends on the window's end only, so the windows of one
    computation (which all end now) share it."""

    def memoised(posts: Sequence[Post], window: Window) -> T:
        memo: tuple[Sequence[Post], dict[tuple[str, Any], Any]] | None
        memo = getattr(_last, "memo", None)
        if memo is None or memo[0] is not posts:
            memo = (posts, {})
            _last.memo = memo
        key = (view.__name__, window.end if by_end else window)
        if key not in memo[1]:
            memo[1][key] = view(posts, window)
        result: T = memo[1][key]
        return result

    return memoised


def _shared_by_end(
    view: Callable[[Sequence[Post], Window], T],
) -> Callable[[Sequence[Post], Window], T]:
    return _shared(view, by_end=True)


def written_order(post: Post) -> tuple[datetime, int]:
    """Posts in the order they were written; a tie in time goes to the higher number."""
    return (post.created_at, post.number)


_ORDER_KEY = attrgetter("created_at", "number")  # ``written_order`` as a sort key, in C
_PLACE = attrgetter("topic_id", "number")  # where a post is in its topic
_ID = attrgetter("post_id")


@_shared_by_end
def _seen(posts: Sequence[Post], window: Window) -> list[Post]:
    """The posts written before the window's end, oldest first."""
    return sorted((post for post in posts if post.created_at < window.end), key=_ORDER_KEY)


@_shared_by_end
def _seen_times(posts: Sequence[Post], window: Window) -> list[datetime]:
    """The times of ``_seen``, in its order: a window's posts are found by bisection."""
    return [post.created_at for post in _seen(posts, window)]


def _since(times: Sequence[datetime], start: datetime) -> int:
    """The index of the first time at or after ``start`` in ascending ``times``."""
    return bisect_left(times, start)


@_shared
def _in_window(posts: Sequence[Post], window: Window) -> list[Post]:
    seen = _seen(posts, window)
    return seen[_since(_seen_times(posts, window), window.start) :]


@dataclass(frozen=True)
class _Topic:
    """A topic whose first post is counted, with its counted posts seen so far."""

    first: Post
    posts: list[Post]  # every seen post of the topic, the first included, in order

    @property
    def author(self) -> str:
        return self.first.author

    @cached_property
    def response(self) -> Post | None:
        """The earliest reply by someone other than the topic's author."""
        author = self.first.author
        for post in self.posts:
            if post.number > 1 and post.author != author:
                return post
        return None

    def first_response(self) -> Post | None:
        return self.response

    def answered_within(self, hours: int) -> bool:
        """Whether someone else replied within ``hours`` of the first post."""
        wait = self.response_hours()
        return wait is not None and wait <= hours

    def author_returned(self) -> bool:
        """Whether the author wrote again after the first response."""
        response = self.response
        if response is None:
            return False
        after = written_order(response)
        author = self.first.author
        return any(post.author == author and written_order(post) > after for post in self.posts)

    def response_hours(self) -> float | None:
        response = self.response
        if response is None:
            return None
        return in_hours(response.created_at - self.first.created_at)

    def answered_from_outside(self, centre: Collection[str], within: timedelta) -> bool:
        """Whether someone not in ``centre`` replied within ``within`` of the first post."""
        return any(
            post.number > 1
            and post.author not in centre
            and post.created_at - self.first.created_at <= within
            for post in self.posts
        )

    def observed_wait(self, window: Window) -> tuple[float, bool]:
        """(hours, answered): the wait for the first reply, or the topic's age at the
        window's end while it waits (the silence so far, censored there)."""
        hours = self.response_hours()
        if hours is None:
            return in_hours(window.end - self.first.created_at), False
        return hours, True


@_shared_by_end
def _seen_topics(posts: Sequence[Post], window: Window) -> tuple[list[_Topic], list[datetime]]:
    """Every topic whose first post is counted and seen, by the time of its first post,
    and those times (for bisection)."""
    _, by_topic = _seen_index(posts, window)
    topics = []
    for topic_posts in by_topic.values():
        first = next((post for post in topic_posts if post.number == 1), None)
        if first is not None:
            topics.append(_Topic(first=first, posts=topic_posts))
    topics.sort(key=lambda topic: written_order(topic.first))
    return topics, [topic.first.created_at for topic in topics]


@_shared
def _topics_in_window(posts: Sequence[Post], window: Window) -> list[_Topic]:
    """The topics whose first post is counted and lies in the window."""
    topics, times = _seen_topics(posts, window)
    return topics[_since(times, window.start) :]


@_shared_by_end
def _seen_replies(
    posts: Sequence[Post], window: Window
) -> tuple[list[tuple[Post, Post]], list[datetime]]:
    """(reply, target) for every seen reply whose target is a counted post, oldest reply
    first, and the replies' times (for bisection).

    The target is the post named by ``reply_to`` in the same topic, or the topic's first
    post when the reply names none.
    """
    seen = _seen(posts, window)
    # Built with C-level maps: a scope has tens of thousands of posts.
    by_number = dict(zip(map(_PLACE, seen), seen, strict=True))
    replies = [post for post in seen if post.number > 1]
    targets = map(by_number.get, [(post.topic_id, post.reply_to or 1) for post in replies])
    pairs = [(reply, target) for reply, target in zip(replies, targets, strict=True) if target]
    return pairs, [reply.created_at for reply, _ in pairs]


@_shared
def _replies_with_targets(posts: Sequence[Post], window: Window) -> list[tuple[Post, Post]]:
    """(reply, target) for the replies in the window whose target is a counted post."""
    pairs, times = _seen_replies(posts, window)
    return pairs[_since(times, window.start) :]


@_shared_by_end
def _seen_index(
    posts: Sequence[Post], window: Window
) -> tuple[dict[int, Post], dict[int, list[Post]]]:
    """The seen posts by id, and by topic (each topic's posts in order)."""
    seen = _seen(posts, window)
    by_topic: dict[int, list[Post]] = defaultdict(list)
    for post in seen:
        by_topic[post.topic_id].append(post)
    return dict(zip(map(_ID, seen), seen, strict=True)), by_topic


def in_hours(span: timedelta) -> float:
    """A span in hours (the unit every wait of the figures is given in)."""
    return span / HOUR


def _ratio(part: int, whole: int) -> float | None:
    """``part / whole``; None when there is nothing to divide (undefined, not 0)."""
    return part / whole if whole else None


def _check_percent(percent: int) -> None:
    if not 0 < percent <= 100:
        raise ValueError(f"percentile must be in 1..100, got {percent}")


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The value at rank ``ceil(percent / 100 * n)`` (1-based) of the sorted values; the
    rank is worked out in whole numbers, so no float rounding can move it."""
    _check_percent(percent)
    if not values:
        return None
    rank = -(-percent * len(values) // 100)
    return sorted(values)[rank - 1]


def survival_quantile(observed: Sequence[tuple[float, bool]], percent: int) -> float | None:
    """One Kaplan–Meier quantile (``survival_quantiles``)."""
    return survival_quantiles(observed, (percent,))[0]


def survival_quantiles(
    observed: Sequence[tuple[float, bool]], percents: Sequence[int]
) -> list[float | None]:
    """Kaplan–Meier quantiles of ``(time, event)`` pairs (``event`` False: censored at
    that time): for each percent, the smallest event time t at which the estimated
    survival S(t) is at most ``1 - percent / 100``; None when S never gets that low.

    Events at one time are taken together; a censoring at the time of an event is still
    at risk then. S is worked out as floats and, where it comes too close to a threshold
    to tell, as an exact fraction, so a quantile that S meets exactly (1 in 10 left, for
    the 90th percentile) is never missed by rounding; with no censoring the result is
    ``nearest_rank`` of the times."""
    for percent in percents:
        _check_percent(percent)
    times = sorted(time for time, _ in observed)  # at risk at t: those from t on
    ends = Counter(time for time, event in observed if event)
    event_times = sorted(ends)
    at_risk = [len(times) - bisect_left(times, time) for time in event_times]
    ended = [ends[time] for time in event_times]
    survival = list(accumulate([(n - d) / n for n, d in zip(at_risk, ended, strict=True)], mul))
    falling = [-value for value in survival]  # S never rises: ascending, for bisection
    found: list[float | None] = []
    for percent in percents:
        left = 100 - percent  # S must be at most left / 100
        index = bisect_left(falling, -(left / 100 + _CLOSE))
        while index < len(survival) and survival[index] > left / 100 - _CLOSE:
            # Too close to tell by floats: S exactly, as the product of its fractions.
            remaining = prod(n - d for n, d in zip(at_risk[: index + 1], ended, strict=False))
            if 100 * remaining <= left * prod(at_risk[: index + 1]):
                break
            index += 1
        found.append(event_times[index] if index < len(survival) else None)
    return found


_CLOSE = 1e-9  # far beyond the floats' error over a product of thousands of fractions


def _fewest_reaching_half(counts: Mapping[str, int]) -> int | None:
    """The fewest keys whose counts make at least half of the total; None when empty."""
    total = sum(counts.values())
    if total == 0:
        return None
    reached = 0
    for taken, count in enumerate(sorted(counts.values(), reverse=True), start=1):
        reached += count
        if 2 * reached >= total:
            return taken
    raise AssertionError("the counts always reach their own total")


# --- response ---------------------------------------------------------------------------


def first_response(posts: Sequence[Post], window: Window) -> Figures:
    """Hours from each window topic's first post to its first reply by someone else:
    over the answered topics only, and counting the silence (unanswered topics censored
    at their age, Kaplan–Meier)."""
    observed = [topic.observed_wait(window) for topic in _topics_in_window(posts, window)]
    return first_response_figures(observed)


def first_response_figures(observed: Sequence[tuple[float, bool]]) -> Figures:
    """``first_response`` from each topic's (hours, answered)."""
    waits = sorted(hours for hours, answered in observed if answered)
    return {
        "topics": len(observed),
        "answered": len(waits),
        "unanswered": len(observed) - len(waits),
        "median_hours": nearest_rank(waits, 50),
        "p90_hours": nearest_rank(waits, 90),
        **dict(
            zip(
                ("km_median_hours", "km_p90_hours"),
                survival_quantiles(observed, (50, 90)),
                strict=True,
            )
        ),
    }


def unanswered(posts: Sequence[Post], window: Window, hours: int) -> Figures:
    """Share of the window's topics at least ``hours`` old with no reply within ``hours``."""
    limit = timedelta(hours=hours)
    eligible = [
        topic
        for topic in _topics_in_window(posts, window)
        if topic.first.created_at <= window.end - limit
    ]
    waiting = sum(1 for topic in eligible if not topic.answered_within(hours))
    return unanswered_figures(hours, len(eligible), waiting)


def unanswered_figures(hours: int, eligible: int, waiting: int) -> Figures:
    return {
        "hours": hours,
        "eligible": eligible,
        "unanswered": waiting,
        "rate": _ratio(waiting, eligible),
    }


# --- two-way conversation ---------------------------------------------------------------


def two_way(posts: Sequence[Post], window: Window) -> Figures:
    """Of the window's answered topics, those whose author wrote again after the answer."""
    topics = _topics_in_window(posts, window)
    answered = sum(1 for topic in topics if topic.response is not None)
    returned = sum(1 for topic in topics if topic.author_returned())
    return two_way_figures(answered, returned)


def two_way_figures(answered: int, returned: int) -> Figures:
    return {"answered": answered, "op_returned": returned, "ratio": _ratio(returned, answered)}


def edge_replies(posts: Sequence[Post], window: Window, centre: Collection[str]) -> Figures:
    """Replies to the centre's posts (stewards, leads: person keys) and those from others."""
    to_centre = 0
    from_edge = 0
    for reply, target in _replies_with_targets(posts, window):
        if target.author not in centre or reply.author == target.author:
            continue
        to_centre += 1
        if reply.author not in centre:
            from_edge += 1
    return edge_reply_figures(to_centre, from_edge)


def edge_reply_figures(to_centre: int, from_edge: int) -> Figures:
    return {
        "replies_to_centre": to_centre,
        "from_edge": from_edge,
        "ratio": _ratio(from_edge, to_centre),
    }


def announcements(
    posts: Sequence[Post], window: Window, centre: Collection[str], hours: int
) -> Figures:
    """The topics the centre started in the window, and the share of those at least
    ``hours`` old that someone outside the centre answered within ``hours``."""
    limit = timedelta(hours=hours)
    started = [topic for topic in _topics_in_window(posts, window) if topic.author in centre]
    eligible = [topic for topic in started if topic.first.created_at <= window.end - limit]
    answered = sum(1 for topic in eligible if topic.answered_from_outside(centre, limit))
    return announcement_figures(hours, len(started), len(eligible), answered)


def announcement_figures(hours: int, started: int, eligible: int, answered: int) -> Figures:
    return {
        "hours": hours,
        "announcements": started,
        "eligible": eligible,
        "answered_from_edge": answered,
        "rate": _ratio(answered, eligible),
    }


# --- participation ----------------------------------------------------------------------


def gini(counts: Sequence[int]) -> float | None:
    """``G = 2 Σ i·x_i / (n Σ x) − (n + 1) / n`` over ascending counts; None when n < 2."""
    n = len(counts)
    total = sum(counts)
    if n < 2 or total == 0:
        return None
    weighted = sum(map(mul, range(1, n + 1), sorted(counts)))
    return 2 * weighted / (n * total) - (n + 1) / n


def _onion(counts: Sequence[int]) -> tuple[int, int, int]:
    """How many people are core, regular and casual (counts of posts, any order)."""
    ordered = sorted(counts, reverse=True)
    total = sum(ordered)
    taken = 0
    reached = 0
    sizes = []
    for percent in (CORE_PERCENT, REGULAR_PERCENT):
        start = taken
        while taken < len(ordered) and 100 * reached < percent * total:
            reached += ordered[taken]
            taken += 1
        # Ties at the boundary go to the inner group.
        while start < taken < len(ordered) and ordered[taken] == ordered[taken - 1]:
            reached += ordered[taken]
            taken += 1
        sizes.append(taken - start)
    return sizes[0], sizes[1], len(ordered) - taken


def participation(posts: Sequence[Post], window: Window) -> Figures:
    """Posts, participants, Gini of posts per person and the core/regular/casual shares."""
    per_person = Counter(post.author for post in _in_window(posts, window))
    return participation_figures(list(per_person.values()))


def participation_figures(counts: Sequence[int]) -> Figures:
    """``participation`` from the posts per person."""
    people = len(counts)
    core, regular, casual = _onion(counts)
    return {
        "posts": sum(counts),
        "participants": people,
        "gini": gini(counts),
        "core": _ratio(core, people),
        "regular": _ratio(regular, people),
        "casual": _ratio(casual, people),
    }


def concentration(posts: Sequence[Post], window: Window) -> Figures:
    """Absence factor (people) and elephant factor (organisations) at 50 % of posts."""
    seen = _in_window(posts, window)
    per_person = Counter(post.author for post in seen)
    per_organisation = Counter(post.organisation for post in seen if post.organisation)
    without = sum(1 for post in seen if post.organisation is None)
    return concentration_figures(per_person, per_organisation, without)


def concentration_figures(
    per_person: Mapping[str, int], per_organisation: Mapping[str, int], without: int
) -> Figures:
    return {
        "absence_factor": _fewest_reaching_half(per_person),
        "elephant_factor": _fewest_reaching_half(per_organisation),
        "posts_without_organisation": without,
    }


# --- across organisations ---------------------------------------------------------------


@_shared
def _organisation_replies(posts: Sequence[Post], window: Window) -> list[tuple[str, str]]:
    """(author's organisation, target's organisation) of the window's replies to someone
    else where both have an organisation."""
    pairs = []
    for reply, target in _replies_with_targets(posts, window):
        if reply.author == target.author:
            continue
        if reply.organisation is not None and target.organisation is not None:
            pairs.append((reply.organisation, target.organisation))
    return pairs


def cross_organisation(posts: Sequence[Post], window: Window) -> Figures:
    """Share of replies between people of two organisations that cross organisations."""
    pairs = _organisation_replies(posts, window)
    cross = sum(1 for given, received in pairs if given != received)
    return cross_organisation_figures(len(pairs), cross)


def cross_organisation_figures(replies: int, cross: int) -> Figures:
    return {"replies": replies, "cross": cross, "rate": _ratio(cross, replies)}


def reciprocity(
    posts: Sequence[Post], window: Window, adoptions: Sequence[Adoption]
) -> dict[str, Figures]:
    """Per organisation: replies given to and received from other organisations, and
    practice adoptions made from others and by others, in the window."""
    given: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for giver, receiver in _organisation_replies(posts, window):
        if giver != receiver:
            given[giver] += 1
            received[receiver] += 1
    return reciprocity_figures(given, received, window, adoptions)


def reciprocity_figures(
    given: Mapping[str, int],
    received: Mapping[str, int],
    window: Window,
    adoptions: Sequence[Adoption],
) -> dict[str, Figures]:
    """``reciprocity`` from the cross-organisation replies each organisation gave and
    received (organisations with none may be left out)."""
    keys = ("replies_given", "replies_received", "adopted_from_others", "adopted_by_others")
    figures: dict[str, Figures] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for organisation, count in given.items():
        if count:
            figures[organisation]["replies_given"] += count
    for organisation, count in received.items():
        if count:
            figures[organisation]["replies_received"] += count
    for adoption in adoptions:
        if not window.holds(adoption.at) or adoption.owner is None:
            continue
        if adoption.adopter != adoption.owner:
            figures[adoption.adopter]["adopted_from_others"] += 1
            figures[adoption.owner]["adopted_by_others"] += 1
    return {organisation: figures[organisation] for organisation in sorted(figures)}


# --- newcomers --------------------------------------------------------------------------


def newcomers(
    posts: Sequence[Post],
    window: Window,
    histories: Mapping[str, History],
    *,
    answer_hours: int,
    return_days: int,
) -> Figures:
    """People whose first counted post ever is in the window: answered within
    ``answer_hours``, and (when old enough) posting again within ``return_days``."""
    by_id, by_topic = _seen_index(posts, window)
    found = newcomers_at(
        histories,
        by_id,
        by_topic.__getitem__,
        window.end,
        answer_hours=answer_hours,
        return_days=return_days,
    )
    return newcomer_figures(found, window)


class Newcomer(NamedTuple):
    """A person whose first counted post ever is seen, as the newcomer figures judge them
    at a window's end."""

    at: datetime  # when the first post was written
    answered: bool  # someone else replied within the answer hours
    eligible: bool  # the first post is at least the return days old
    returned: bool  # eligible, and they posted again within the return days


def newcomers_at(
    histories: Mapping[str, History],
    by_id: Mapping[int, Post],
    topic_posts: Callable[[int], Sequence[Post]],
    end: datetime,
    *,
    answer_hours: int,
    return_days: int,
) -> list[Newcomer]:
    """The people of ``histories`` whose first post is seen (in ``by_id``), judged at
    ``end``: every window ending then counts those whose first post it holds."""
    answer_limit = timedelta(hours=answer_hours)
    return_limit = timedelta(days=return_days)
    found = []
    for history in histories.values():
        first = by_id.get(history.first_post_id)
        if first is None:
            continue
        answered = any(
            post.author != first.author
            and written_order(post) > written_order(first)
            and post.created_at - first.created_at <= answer_limit
            for post in topic_posts(first.topic_id)
        )
        eligible = history.first_at <= end - return_limit
        second = history.second_at
        returned = eligible and second is not None and second - history.first_at <= return_limit
        found.append(Newcomer(first.created_at, answered, eligible, returned))
    return found


def newcomer_figures(newcomers: Sequence[Newcomer], window: Window) -> Figures:
    """``newcomers`` of the window, from ``newcomers_at`` its end."""
    held = [newcomer for newcomer in newcomers if window.holds(newcomer.at)]
    count = len(held)
    answered = sum(newcomer.answered for newcomer in held)
    eligible = sum(newcomer.eligible for newcomer in held)
    returned = sum(newcomer.returned for newcomer in held)
    return {
        "newcomers": count,
        "answered": answered,
        "answered_rate": _ratio(answered, count),
        "eligible_return": eligible,
        "returned": returned,
        "return_rate": _ratio(returned, eligible),
    }


# --- pulse ------------------------------------------------------------------------------


def pulse_beats(window_days: int, beat_days: int) -> int:
    """How many beats a window's pulse covers: the whole beats in the window, and never
    fewer than ``MIN_BEATS`` (a monthly beat fits only three times in 90 days, too few to
    tell a missed beat); the pulse may so look back before the window's start."""
    if beat_days < 1:
        raise ValueError(f"beat_days must be at least 1, got {beat_days}")
    return max(window_days // beat_days, MIN_BEATS)


def pulse(posts: Sequence[Post], window: Window, beat_days: int, missed_fraction: float) -> Figures:
    """Counted posts per beat (oldest first), their regularity and the missed beats."""
    times = _seen_times(posts, window)
    beats = pulse_beat_counts(lambda edge: _since(times, edge), window, beat_days)
    return pulse_figures(beats, beat_days, missed_fraction)


def pulse_beat_counts(
    before: Callable[[datetime], int], window: Window, beat_days: int
) -> list[int]:
    """The counted posts of each beat, oldest first, from ``before(t)``: how many seen
    posts were written before ``t``. Older posts (a partial beat) are left out."""
    edges = [before(edge) for edge in _pulse_edges(window, beat_days)]
    return [later - earlier for earlier, later in pairwise(edges)]


def _pulse_edges(window: Window, beat_days: int) -> list[datetime]:
    count = pulse_beats(window.days, beat_days)
    beat = timedelta(days=beat_days)
    oldest = window.end - count * beat
    return [oldest + n * beat for n in range(count)] + [window.end]


def pulse_figures(beats: Sequence[int], beat_days: int, missed_fraction: float) -> Figures:
    """``pulse`` from the counted posts of each beat, oldest first."""
    count = len(beats)
    mean = statistics.fmean(beats)
    missed = 0
    for index in range(MISSED_AFTER, count):
        before = statistics.median(beats[:index])
        if before > 0 and beats[index] < missed_fraction * before:
            missed += 1
    return {
        "beat_days": beat_days,
        "beats": beats,
        "cv": math.sqrt(statistics.fmean((n - mean) ** 2 for n in beats)) / mean if mean else None,
        "missed": missed,
        "last_beat": beats[-1],
    }


# --- leadership and wiki freshness ------------------------------------------------------


def leadership(
    changes: Sequence[LeadChange], *, now: datetime, term_end: date | None, terms: int
) -> Figures:
    """Distinct leads over the last ``terms`` changes, days since the last change, and
    whether the current lead outlasted the page's ``term_end``."""
    if terms < 1:
        raise ValueError(f"terms must be at least 1, got {terms}")
    past = sorted((change for change in changes if change.at <= now), key=lambda c: c.at)
    if not past:
        return {"lead": None, "distinct_leads": None, "days_since_change": None, "terms_overrun": 0}
    latest = past[-1]
    overrun = term_end is not None and now.date() > term_end and latest.at.date() <= term_end
    return {
        "lead": latest.lead,
        "distinct_leads": len({change.lead for change in past[-terms:]}),
        "days_since_change": (now - latest.at) / timedelta(days=1),
        "terms_overrun": int(overrun),
    }


def freshness(
    pages: Sequence[PageEdit],
    posts: Sequence[Post],
    *,
    now: datetime,
    days: int,
    min_posts: int,
) -> Figures:
    """Pages no counted person edited for ``days`` while the forum side had at least
    ``min_posts`` counted posts in those days; pages never edited by one are listed apart."""
    since = now - timedelta(days=days)
    recent = sum(1 for post in posts if since <= post.created_at < now)
    return freshness_figures(pages, recent, now=now, days=days, min_posts=min_posts)


def freshness_figures(
    pages: Sequence[PageEdit], recent: int, *, now: datetime, days: int, min_posts: int
) -> Figures:
    """``freshness`` from the counted posts of the last ``days``."""
    since = now - timedelta(days=days)
    active = recent >= min_posts
    stale = [
        page.title
        for page in pages
        if active and page.last_human_edit is not None and page.last_human_edit < since
    ]
    unknown = [page.title for page in pages if page.last_human_edit is None]
    return {"active": active, "posts": recent, "stale": sorted(stale), "unknown": sorted(unknown)}
