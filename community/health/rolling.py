"""One scope's health kept current as posts arrive and time moves (the incremental step).

``Rolling`` holds a scope's counted posts and, for each figure, what it counts: topics,
replies and posts kept by time in sorted lists (a window's part is found by bisection)
and each window's posts per person and organisation in counters slid as the window
moves. A new post touches its topic and the lists it joins; a later ``now`` makes the
posts written before it seen and slides the windows. The figures are ``metrics``'
own (its ``*_figures`` functions), from these counts instead of a scan of every post:
``tests/community/health/test_rolling.py`` holds the two to the same values.

Pure: the store-facing side (what changed, when to rebuild) is ``community.health.live``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from community.health import metrics
from community.health.conversation import (
    History,
    PageEdit,
    People,
    Post,
    RawPost,
    Window,
    counted_posts,
)
from community.health.inputs import ForumAccount, ScopeInputs, ScopeSpec
from community.health.scope import ScopeHealth
from community.health.whole_scope import scope_health

# A place in time order: (created_at, a unique id) — (time,) sorts before every key of
# that time, so bisection by (time,) finds the first key at or after it.
Key = tuple[datetime, int]
_LAST = float("inf")  # (time, _LAST) sorts after every key of that time


class _Timeline:
    """Keys in time order: how many fall in a span, by bisection."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: list[Key] = []

    def add(self, key: Key) -> None:
        if not self.keys or self.keys[-1] < key:
            self.keys.append(key)  # the usual case: the newest
        else:
            insort(self.keys, key)

    def discard(self, key: Key) -> None:
        at = bisect_left(self.keys, key)
        if at < len(self.keys) and self.keys[at] == key:
            del self.keys[at]

    def span(self, start: datetime, end: datetime) -> tuple[int, int]:
        """The indexes of the keys with ``start <= time < end``."""
        return bisect_left(self.keys, (start,)), bisect_left(self.keys, (end,))

    def count(self, start: datetime, end: datetime) -> int:
        """Keys with ``start <= time < end``."""
        low, high = self.span(start, end)
        return high - low

    def count_through(self, start: datetime, last: datetime) -> int:
        """Keys with ``start <= time <= last``."""
        return max(0, bisect_right(self.keys, (last, _LAST)) - bisect_left(self.keys, (start,)))


class _Topic:
    """A topic's seen posts in the order they were written, and what it counts for."""

    __slots__ = ("first", "marks", "posts", "wait")

    def __init__(self) -> None:
        self.first: Post | None = None
        self.posts: list[Post] = []
        self.marks: frozenset[str] = frozenset()  # the topic timelines it is in
        self.wait: float | None = None  # hours to the first response


class _WindowCounts:
    """One window's posts per person and per organisation, slid as the window moves."""

    __slots__ = ("days", "given", "per_organisation", "per_person", "received", "without")

    def __init__(self, days: int) -> None:
        self.days = days
        self.per_person: Counter[str] = Counter()
        self.per_organisation: Counter[str] = Counter()
        self.without = 0  # posts by people without an organisation
        # Replies across organisations, by the organisation that gave and that received.
        self.given: Counter[str] = Counter()
        self.received: Counter[str] = Counter()

    def cross(self, pair: tuple[str, str], step: int) -> None:
        self.given[pair[0]] += step
        self.received[pair[1]] += step

    def add(self, post: Post, step: int) -> None:
        self.per_person[post.author] += step
        if post.organisation:
            self.per_organisation[post.organisation] += step
        elif post.organisation is None:
            self.without += step
        if step < 0:  # no zero counts: a person without posts is not a participant
            if not self.per_person[post.author]:
                del self.per_person[post.author]
            if post.organisation and not self.per_organisation[post.organisation]:
                del self.per_organisation[post.organisation]


def _key(post: Post) -> Key:
    return (post.created_at, post.post_id)


class Rolling:
    """A scope's figures, kept from its inputs (``load_inputs``, read with no upper
    bound in time: posts after ``now`` wait until it passes them)."""

    def __init__(
        self, spec: ScopeSpec, inputs: ScopeInputs, options: Mapping[str, Any], now: datetime
    ) -> None:
        self.spec = spec
        self.inputs = replace(inputs, rows=())  # the rows become the structures below
        self.names_of: dict[str, list[str]] = defaultdict(list)  # person -> usernames
        for name in inputs.accounts:
            self.names_of[inputs.people.person(name)].append(name)
        self.options = options
        self.now = now
        self.windows = [_WindowCounts(days) for days in sorted(int(d) for d in options["windows"])]
        self.unanswered_hours = int(options["unanswered_hours"])
        self.unanswered_limit = timedelta(hours=self.unanswered_hours)
        self.edge_limit = timedelta(hours=int(options["edge_answer_hours"]))
        self.histories: dict[str, History] = dict(inputs.histories)
        # Every post known, counted or not, by id: a post seen again is not added twice.
        self.known: set[int] = set()
        self.pending: list[tuple[Key, Post]] = []  # counted posts at or after ``now``
        self.pending_ids: set[int] = set()
        self.by_id: dict[int, Post] = {}  # counted posts seen
        self.by_number: dict[tuple[int, int], Post] = {}
        self.topics: dict[int, _Topic] = defaultdict(_Topic)
        self.waiting: dict[tuple[int, int], list[Post]] = defaultdict(list)  # replies
        self.posts = _Timeline()
        self.topic_lines = {
            mark: _Timeline()
            for mark in ("started", "answered", "prompt", "returned", "centre", "edge_answered")
        }
        self.reply_lines = {mark: _Timeline() for mark in ("to_centre", "from_edge", "pairs")}
        self.cross = _Timeline()
        # (giver, receiver) of each reply across organisations, by the reply's id.
        self.cross_pairs: dict[int, tuple[str, str]] = {}
        self.add(inputs.rows)
        self._keep_newcomers()

    # -- what the store tells ------------------------------------------------------------

    def knows_topic(self, topic_id: int) -> bool:
        """Whether the topic's posts are here (those of a topic older than the look-back
        are read when it is replied to)."""
        return topic_id in self.topics or any(post.topic_id == topic_id for _, post in self.pending)

    def add(self, rows: Iterable[RawPost]) -> None:
        """New posts (any order; ones already known are skipped)."""
        fresh = {row.post_id: row for row in rows if row.post_id not in self.known}
        self.known.update(fresh)
        starts = self._starts(self.now)
        for post in counted_posts(fresh.values(), self.inputs.people):  # oldest first
            if post.created_at < self.now:
                self._see(post, starts=starts)
            else:
                insort(self.pending, (_key(post), post))
                self.pending_ids.add(post.post_id)

    def set_pages(self, pages: Sequence[PageEdit]) -> None:
        self.inputs = replace(self.inputs, pages=list(pages))

    def set_histories(self, histories: Mapping[str, History | None]) -> None:
        """The first posts ever of these people, as read again (None: they have none)."""
        for person, history in histories.items():
            if history is None:
                self.histories.pop(person, None)
            else:
                self.histories[person] = history
        self._keep_newcomers()

    def _keep_newcomers(self) -> None:
        """Keep the histories of the people who are or may become newcomers here: their
        first post ever is one of this scope's, in the widest window or after it. (An
        older first post never comes back into a window: only a change to a stored post
        or an account could move it, and those build the scope again.)"""
        since = self.now - timedelta(days=self.windows[-1].days)
        self.histories = {
            person: history
            for person, history in self.histories.items()
            if history.first_at >= since
            and (history.first_post_id in self.by_id or history.first_post_id in self.pending_ids)
        }

    def meet(self, accounts: Mapping[str, ForumAccount], people: People) -> None:
        """More accounts (people new to the scope, none of its centre), before their posts."""
        for name in accounts.keys() - self.inputs.accounts.keys():
            self.names_of[people.person(name)].append(name)
        self.inputs = replace(self.inputs, accounts=accounts, people=people)

    def usernames_of(self, persons: Iterable[str]) -> list[str]:
        """The usernames (of ``inputs.accounts``) of these people."""
        return [name for person in persons for name in self.names_of.get(person, ())]

    def newcomer_candidates(self) -> set[str]:
        """The people who are or may become newcomers here (their histories change with
        posts elsewhere, so they are read again at each update)."""
        return set(self.histories)

    # -- time ------------------------------------------------------------------------------

    def _starts(self, now: datetime) -> list[datetime]:
        return [now - timedelta(days=counts.days) for counts in self.windows]

    def advance(self, now: datetime) -> None:
        """Move to a later ``now``: the windows slide, then the posts written before it
        are seen."""
        if now < self.now:
            raise ValueError(f"the figures are as of {self.now}; {now} is earlier")
        keys = self.posts.keys
        moves = zip(self.windows, self._starts(self.now), self._starts(now), strict=True)
        for window_counts, old, new in moves:
            low = bisect_left(keys, (old,))
            high = bisect_left(keys, (min(new, self.now),))
            for key in keys[low:high]:
                window_counts.add(self.by_id[key[1]], -1)
                pair = self.cross_pairs.get(key[1])
                if pair is not None:
                    window_counts.cross(pair, -1)
        self.now = now
        starts = self._starts(now)
        ready = bisect_left(self.pending, ((now,),))
        arrived, self.pending = self.pending[:ready], self.pending[ready:]
        for _, post in arrived:
            self.pending_ids.discard(post.post_id)
            self._see(post, starts=starts)
        self._keep_newcomers()

    def _see(self, post: Post, *, starts: Sequence[datetime]) -> None:
        """A counted post written before ``now`` joins its topic, its reply and the windows."""
        self.by_id[post.post_id] = post
        self.by_number[(post.topic_id, post.number)] = post
        self.posts.add(_key(post))
        for window_counts, start in zip(self.windows, starts, strict=True):
            if post.created_at >= start:
                window_counts.add(post, +1)
        topic = self.topics[post.topic_id]
        insort(topic.posts, post, key=metrics.written_order)
        if post.number == 1:
            topic.first = post
        self._mark(post.topic_id, topic)
        if post.number > 1:
            target = self.by_number.get((post.topic_id, post.reply_to or 1))
            if target is None:
                self.waiting[(post.topic_id, post.reply_to or 1)].append(post)
            else:
                self._pair(post, target)
        for reply in self.waiting.pop((post.topic_id, post.number), []):
            self._pair(reply, post)

    def _mark(self, topic_id: int, topic: _Topic) -> None:
        """Put the topic in the timelines it now belongs to (by its first post's time)."""
        first = topic.first
        if first is None:
            return  # counted only once its first post is
        marks: set[str] = {"started"}
        topic.wait = None
        author = first.author
        response = next((p for p in topic.posts if p.number > 1 and p.author != author), None)
        if response is not None:
            marks.add("answered")
            topic.wait = metrics.in_hours(response.created_at - first.created_at)
            if topic.wait <= self.unanswered_hours:
                marks.add("prompt")
            after = metrics.written_order(response)
            if any(p.author == author and metrics.written_order(p) > after for p in topic.posts):
                marks.add("returned")
        centre = self.inputs.centre
        if author in centre:
            marks.add("centre")
            if any(
                p.number > 1
                and p.author not in centre
                and p.created_at - first.created_at <= self.edge_limit
                for p in topic.posts
            ):
                marks.add("edge_answered")
        if marks == topic.marks:
            return
        key = (first.created_at, topic_id)
        for mark in topic.marks - marks:
            self.topic_lines[mark].discard(key)
        for mark in marks - topic.marks:
            self.topic_lines[mark].add(key)
        topic.marks = frozenset(marks)

    def _pair(self, reply: Post, target: Post) -> None:
        """A reply and the counted post it answers, in the reply timelines."""
        if reply.author == target.author:
            return
        key = _key(reply)
        centre = self.inputs.centre
        if target.author in centre:
            self.reply_lines["to_centre"].add(key)
            if reply.author not in centre:
                self.reply_lines["from_edge"].add(key)
        given, received = reply.organisation, target.organisation
        if given is not None and received is not None:
            self.reply_lines["pairs"].add(key)
            if given != received:
                self.cross.add(key)
                self.cross_pairs[reply.post_id] = (given, received)
                for window_counts, start in zip(self.windows, self._starts(self.now), strict=True):
                    if reply.created_at >= start:
                        window_counts.cross((given, received), +1)

    # -- figures ---------------------------------------------------------------------------

    def health(self, now: datetime) -> ScopeHealth:
        """Every figure of the scope as of ``now`` (not earlier than the last one)."""
        self.advance(now)
        options = self.options
        newcomers = metrics.newcomers_at(
            self.histories,
            self.by_id,
            lambda topic_id: self.topics[topic_id].posts if topic_id in self.topics else [],
            now,
            answer_hours=int(options["newcomer_answer_hours"]),
            return_days=int(options["newcomer_return_days"]),
        )
        counts = {window_counts.days: window_counts for window_counts in self.windows}

        def window_figures(
            days: int, leadership: metrics.Figures | None, freshness: metrics.Figures
        ) -> dict[str, Any]:
            window = Window(now, days)
            return self._window(window, counts[days], newcomers, leadership, freshness)

        return scope_health(
            self.spec,
            self.inputs,
            options,
            now,
            lambda since: self.posts.count(since, now),
            window_figures,
        )

    def _window(
        self,
        window: Window,
        counts: _WindowCounts,
        newcomers: Sequence[metrics.Newcomer],
        leadership: metrics.Figures | None,
        freshness: metrics.Figures,
    ) -> dict[str, Any]:
        options = self.options
        start, end = window.start, window.end
        lines = self.topic_lines
        unanswered_hours = int(options["unanswered_hours"])
        edge_hours = int(options["edge_answer_hours"])
        unanswered_last = end - self.unanswered_limit
        edge_last = end - self.edge_limit
        eligible = lines["started"].count_through(start, unanswered_last)
        edge_eligible = lines["centre"].count_through(start, edge_last)
        replies = self.reply_lines
        return {
            "first_response": metrics.first_response_figures(self._observed(window)),
            "unanswered": metrics.unanswered_figures(
                unanswered_hours,
                eligible,
                eligible - lines["prompt"].count_through(start, unanswered_last),
            ),
            "two_way": metrics.two_way_figures(
                lines["answered"].count(start, end), lines["returned"].count(start, end)
            ),
            "announcements": metrics.announcement_figures(
                edge_hours,
                lines["centre"].count(start, end),
                edge_eligible,
                lines["edge_answered"].count_through(start, edge_last),
            ),
            "edge_replies": metrics.edge_reply_figures(
                replies["to_centre"].count(start, end), replies["from_edge"].count(start, end)
            ),
            "participation": metrics.participation_figures(list(counts.per_person.values())),
            "concentration": metrics.concentration_figures(
                counts.per_person, counts.per_organisation, counts.without
            ),
            "cross_organisation": metrics.cross_organisation_figures(
                replies["pairs"].count(start, end), self.cross.count(start, end)
            ),
            "reciprocity": metrics.reciprocity_figures(
                counts.given,
                counts.received,
                window,
                self.inputs.adoptions,
            ),
            "newcomers": metrics.newcomer_figures(newcomers, window),
            "pulse": self._pulse(window),
            "leadership": leadership,
            "freshness": freshness,
        }

    def _observed(self, window: Window) -> list[tuple[float, bool]]:
        """(hours, answered) of each topic started in the window: the wait for its first
        response, or its age at the window's end while it waits."""
        line = self.topic_lines["started"]
        low, high = line.span(window.start, window.end)
        topics, end = self.topics, window.end
        keys = line.keys[low:high]
        waits = [topics[topic_id].wait for _, topic_id in keys]
        return [
            (metrics.in_hours(end - at), False) if wait is None else (wait, True)
            for (at, _), wait in zip(keys, waits, strict=True)
        ]

    def _pulse(self, window: Window) -> metrics.Figures:
        beat_days = self.spec.beat_days
        keys = self.posts.keys
        beats = metrics.pulse_beat_counts(
            lambda edge: bisect_left(keys, (edge,)), window, beat_days
        )
        return metrics.pulse_figures(beats, beat_days, float(self.options["missed_beat_fraction"]))
