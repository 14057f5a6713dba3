"""The conversation the health metrics read: counted posts, the window, the people.

The store keeps every post as last seen (``ForumPostActivity``); ``counted_posts`` turns
those rows into the posts docs/metrics.md counts. Everything here is pure: the metric
functions and their tests need no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

from community.credits.rules import normalise

REGULAR_POST = 1  # Discourse post_type: 1 regular, 2 moderator action, 3 small action, 4 whisper


class RawPost(NamedTuple):
    """A post row as the store keeps it (the fields of ``ForumPostActivity`` used here).
    Named tuples, not dataclasses: a scope loads tens of thousands of posts."""

    post_id: int
    topic_id: int
    post_number: int
    reply_to_post_number: int | None
    username: str
    created_at: datetime
    deleted: bool = False
    hidden: bool = False
    private: bool = False
    post_type: int = REGULAR_POST


class Post(NamedTuple):
    """A counted post: written by a counted person, visible, regular, not private."""

    post_id: int
    topic_id: int
    number: int  # post_number; 1 is the topic's first post
    reply_to: int | None  # the post_number it replies to, in the same topic
    author: str  # the person's key: linked accounts are one person
    organisation: str | None
    created_at: datetime


@dataclass(frozen=True)
class People:
    """Who is who: accounts never counted, the person behind each forum account and
    each person's organisation. Usernames match as the credit rules match them
    (``normalise``: any case, "_" as a space)."""

    excluded: frozenset[str] = frozenset()  # bots, our own accounts, the excluded list
    person_of: Mapping[str, str] = field(default_factory=dict)  # username -> person key
    organisation_of: Mapping[str, str] = field(default_factory=dict)  # person key -> org

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", frozenset(normalise(n) for n in self.excluded))
        person_of = {normalise(name): key for name, key in self.person_of.items()}
        object.__setattr__(self, "person_of", person_of)

    def person(self, username: str) -> str:
        """The person key of an account; an unknown account is a person of its own."""
        name = normalise(username)
        return self.person_of.get(name, f"forum:{name}")

    def counts(self, username: str) -> bool:
        return bool(username) and normalise(username) not in self.excluded


@dataclass(frozen=True)
class Window:
    """``[end - days, end)``: the time a figure looks at."""

    end: datetime
    days: int
    start: datetime = field(init=False, compare=False)  # kept: read for every post

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", self.end - timedelta(days=self.days))

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def counts(row: RawPost, people: People) -> bool:
    """Whether a stored post is one the metrics count (docs/metrics.md, "Counted post")."""
    return (
        not row.deleted
        and not row.hidden
        and not row.private
        and row.post_type == REGULAR_POST
        and people.counts(row.username)
    )


def counted_posts(rows: Iterable[RawPost], people: People) -> list[Post]:
    """The counted posts among ``rows``, oldest first."""
    # Each author is looked up once: a scope has far fewer authors than posts.
    authors: dict[str, tuple[str, str | None] | None] = {}
    make = Post._make  # in C: a scope has tens of thousands of posts
    posts = []
    for post_id, topic_id, number, reply_to, username, at, deleted, hidden, private, kind in rows:
        if deleted or hidden or private or kind != REGULAR_POST:
            continue
        if username not in authors:
            person = people.person(username)
            counted = people.counts(username)
            authors[username] = (person, people.organisation_of.get(person)) if counted else None
        author = authors[username]
        if author is None:
            continue
        posts.append(make((post_id, topic_id, number, reply_to, author[0], author[1], at)))
    posts.sort(key=attrgetter("created_at", "post_id"))
    return posts


@dataclass(frozen=True)
class History:
    """A person's first counted post ever (anywhere on the forum) and when they next
    posted (a counted post, any topic); newcomer figures need both."""

    first_post_id: int
    first_at: datetime
    second_at: datetime | None


@dataclass(frozen=True)
class Adoption:
    """An organisation adopting a practice that another organisation (``owner``, the
    practice's originating organisation; None when unknown) shared."""

    adopter: str
    owner: str | None
    at: datetime


@dataclass(frozen=True)
class LeadChange:
    """A revision of a constellation page that named a new lead partner."""

    lead: str
    at: datetime


@dataclass(frozen=True)
class PageEdit:
    """A wiki page and the last edit a counted person made to it (None: none seen)."""

    title: str
    last_human_edit: datetime | None
