"""Scans of the store for what needs a nudge: topics nobody answered, charter pages nobody
keeps up while their category is busy. Also the reading both scans and the beats share:
which constellations there are, which posts count, which topics got an answer.

Only the store is read (never a platform). A post *counts* as docs/metrics.md says: not
deleted, hidden, private, a whisper or a small action, and not written by a bot or by one
of Constellate's own accounts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, WikiChangeActivity
from community.constellations.models import PageTopicLink
from community.credits.models import Account
from community.credits.rules import is_ip_address, load_rules, normalise, own_accounts
from core.config import Settings
from core.event_kinds import CHARTER_STALE, TOPIC_UNANSWERED
from core.events import Event

REGULAR_POST = 1  # Discourse's post_type of an ordinary post
EDIT_TYPES = ("edit", "new")  # wiki changes that change a page's text
# Opening posts older than this past the deadline are not nudged about: a first start (or
# a long downtime) must not wake every old topic at once.
UNANSWERED_LOOK_BACK = timedelta(days=7)
STALE_STATUSES = ("active", "forming")
MAX_EDITORS = 3


# -- shared reading ----------------------------------------------------------------------


def constellations(session: Session, statuses: Collection[str] = ()) -> list[PageTopicLink]:
    """The live constellations with a forum category (of ``statuses``, when given)."""
    links = session.scalars(
        select(PageTopicLink)
        .where(
            PageTopicLink.charter.is_not(None),
            PageTopicLink.archived_at.is_(None),
            PageTopicLink.forum_category_id.is_not(None),
        )
        .order_by(PageTopicLink.wiki_page_id)
    )
    return [
        link
        for link in links
        if link.charter and (not statuses or link.charter.get("status") in statuses)
    ]


def counted() -> tuple[ColumnElement[bool], ...]:
    """The conditions on a post row itself for it to count (the author is checked apart)."""
    post = ForumPostActivity
    return (
        post.deleted.is_(False),
        post.hidden.is_(False),
        post.private.is_(False),
        post.post_type == REGULAR_POST,
    )


def excluded_authors(session: Session, settings: Settings) -> frozenset[str]:
    """Forum usernames (normalised) whose posts never count: ours, bots, the credit
    rules' excluded accounts (our wiki account may post on the forum too)."""
    names = own_accounts(settings, "forum") | own_accounts(settings, "wiki")
    names |= set(load_rules(settings).exclude_accounts)
    bots = session.scalars(
        select(Account.username).where(Account.platform == "forum", Account.is_bot.is_(True))
    )
    names |= {normalise(name) for name in bots}
    return frozenset(names)


def person_keys(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """Forum username -> the person it belongs to (linked accounts are one person); a
    username we know no person of stands for itself."""
    wanted = set(usernames)
    keys = {name: f"forum:{normalise(name)}" for name in wanted}
    if wanted:
        query = select(Account.username, Account.person_id).where(
            Account.platform == "forum", Account.username.in_(wanted)
        )
        for username, person_id in session.execute(query):
            keys[username] = f"person:{person_id}"
    return keys


def answered(session: Session, excluded: Collection[str], openers: Mapping[int, str]) -> set[int]:
    """The topics among ``openers`` (topic id -> author) that have a counted reply by
    another person than the author."""
    if not openers:
        return set()
    post = ForumPostActivity
    query = select(post.topic_id, post.username).where(
        post.topic_id.in_(list(openers)), post.post_number > 1, *counted()
    )
    replies = [
        (topic, name) for topic, name in session.execute(query) if normalise(name) not in excluded
    ]
    people = person_keys(session, [*openers.values(), *(name for _, name in replies)])
    return {topic for topic, name in replies if people[name] != people[openers[topic]]}


@dataclass(frozen=True)
class Opening:
    topic_id: int
    category_id: int
    username: str
    created_at: datetime


def openings(
    session: Session,
    excluded: Collection[str],
    categories: Collection[int],
    since: datetime,
    until: datetime,
) -> list[Opening]:
    """Counted opening posts in ``categories`` made in ``[since, until]``, newest first."""
    if not categories:
        return []
    post = ForumPostActivity
    query = (
        select(post.topic_id, post.category_id, post.username, post.created_at)
        .where(
            post.category_id.in_(list(categories)),
            post.post_number == 1,
            post.created_at >= since,
            post.created_at <= until,
            *counted(),
        )
        .order_by(post.created_at.desc(), post.topic_id.desc())
    )
    return [
        Opening(topic, category, name, at)
        for topic, category, name, at in session.execute(query)
        if category is not None and normalise(name) not in excluded
    ]


# -- unanswered topics -------------------------------------------------------------------


def unanswered_events(
    session: Session, settings: Settings, *, now: datetime, hours: Iterable[int]
) -> list[Event]:
    """One event per topic and ``hours`` value: a constellation's topic whose opening post
    is at least that old (and at most a week more) and that no other person answered.

    The author's own replies, bots' and our accounts' replies do not answer a topic.
    """
    links = {link.forum_category_id: link for link in constellations(session)}
    excluded = excluded_authors(session, settings)
    events: list[Event] = []
    for wait in sorted(set(hours)):
        deadline = now - timedelta(hours=wait)
        found = openings(
            session,
            excluded,
            [c for c in links if c is not None],
            deadline - UNANSWERED_LOOK_BACK,
            deadline,
        )
        done = answered(session, excluded, {o.topic_id: o.username for o in found})
        for opening in found:
            if opening.topic_id in done:
                continue
            link = links[opening.category_id]
            events.append(_unanswered(opening, link.wiki_page_id, wait))
    return events


def _unanswered(opening: Opening, page_id: int, hours: int) -> Event:
    return Event(
        event_id=f"schedule:unanswered:{opening.topic_id}:{hours}",
        kind=TOPIC_UNANSWERED,
        source="schedule",
        subject=f"topic:{opening.topic_id}",
        actor=None,
        occurred_at=opening.created_at + timedelta(hours=hours),
        delivery_id=None,
        payload={
            "topic_id": opening.topic_id,
            "category_id": opening.category_id,
            "page_id": page_id,
            "hours": hours,
            "opened_at": opening.created_at.isoformat(),
            "facts": {"hours_unanswered": hours, "author": opening.username},
        },
    )


# -- stale charters ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    user: str
    revid: int | None
    at: datetime


def stale_events(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    stale: Iterable[tuple[int, int]],
    zone: tzinfo = UTC,
) -> list[Event]:
    """One event per page, (days, active_days) and last human edit: a charter page no
    person edited for ``days`` while its category had a counted post within
    ``active_days``. A new edit starts a new stretch (a new event id)."""
    links = constellations(session, STALE_STATUSES)
    excluded = excluded_authors(session, settings)
    editors_excluded = _excluded_editors(session, settings)
    events: list[Event] = []
    for link in links:
        edits = _human_edits(session, link.wiki_title, editors_excluded)
        if not edits:
            continue  # nothing seen of the page's history: no way to tell it is stale
        last = edits[0]
        for days, active_days in sorted(set(stale)):
            if last.at > now - timedelta(days=days):
                continue
            assert link.forum_category_id is not None
            if not _busy(session, excluded, link.forum_category_id, now, active_days):
                continue
            editors = forum_names(session, _recent_editors(edits))
            events.append(_stale(link, last, days, active_days, now, editors, zone))
    return events


def _excluded_editors(session: Session, settings: Settings) -> frozenset[str]:
    names = own_accounts(settings, "wiki") | set(load_rules(settings).exclude_accounts)
    bots = session.scalars(
        select(Account.username).where(Account.platform == "wiki", Account.is_bot.is_(True))
    )
    return frozenset(names | {normalise(name) for name in bots})


def _human_edits(session: Session, title: str, excluded: Collection[str]) -> list[_Edit]:
    """The page's edits by people (not our bot, bots or IP addresses), newest first."""
    change = WikiChangeActivity
    query = (
        select(change.user, change.revid, change.timestamp)
        .where(change.title == title, change.type.in_(EDIT_TYPES), change.user.is_not(None))
        .order_by(change.timestamp.desc(), change.revid.desc())
    )
    return [
        _Edit(user, revid, at)
        for user, revid, at in session.execute(query)
        if user and not is_ip_address(user) and normalise(user) not in excluded
    ]


def _recent_editors(edits: list[_Edit]) -> list[str]:
    editors: dict[str, str] = {}
    for edit in edits:
        editors.setdefault(normalise(edit.user), edit.user)
        if len(editors) == MAX_EDITORS:
            break
    return list(editors.values())


def forum_names(session: Session, wiki_users: list[str]) -> list[str]:
    """The forum accounts of the people behind ``wiki_users`` (in that order); a wiki
    account no moderator linked to a forum account gives none."""
    if not wiki_users:
        return []
    wanted = {normalise(user) for user in wiki_users}
    # MediaWiki writes "_" and " " alike; compare loosely, then exactly as normalised.
    spellings = {
        v.lower() for u in wiki_users for v in (u, u.replace(" ", "_"), u.replace("_", " "))
    }
    rows = session.execute(
        select(Account.username, Account.person_id).where(
            Account.platform == "wiki", func.lower(Account.username).in_(spellings)
        )
    )
    person_of = {normalise(name): person for name, person in rows if normalise(name) in wanted}
    if not person_of:
        return []
    forum_accounts = session.execute(
        select(Account.person_id, Account.username)
        .where(
            Account.platform == "forum",
            Account.person_id.in_(set(person_of.values())),
            Account.is_bot.is_(False),
        )
        .order_by(Account.username)
    )
    by_person: dict[int, list[str]] = {}
    for person_id, name in forum_accounts:
        by_person.setdefault(person_id, []).append(name)
    names: dict[str, None] = {}
    for user in wiki_users:
        owner = person_of.get(normalise(user))
        names.update(dict.fromkeys(by_person.get(owner, []) if owner is not None else []))
    return list(names)


def _busy(
    session: Session, excluded: Collection[str], category_id: int, now: datetime, days: int
) -> bool:
    post = ForumPostActivity
    authors = session.scalars(
        select(post.username)
        .where(
            post.category_id == category_id,
            post.created_at >= now - timedelta(days=days),
            post.created_at <= now,
            *counted(),
        )
        .distinct()
    )
    return any(normalise(name) not in excluded for name in authors)


def _stale(
    link: PageTopicLink,
    last: _Edit,
    days: int,
    active_days: int,
    now: datetime,
    editors: list[str],
    zone: tzinfo,
) -> Event:
    # A change seen only as a recent-changes row may lack a revision id; its time then
    # names the stretch.
    stretch = str(last.revid) if last.revid else f"t{int(last.at.timestamp())}"
    facts: dict[str, Any] = {
        "days_untouched": (now - last.at).days,
        "last_edited": last.at.astimezone(zone).date().isoformat(),
        "last_editors": editors,
    }
    return Event(
        event_id=f"schedule:stale:{link.wiki_page_id}:{days}:{stretch}",
        kind=CHARTER_STALE,
        source="schedule",
        subject=f"constellation:{link.wiki_page_id}",
        actor=None,
        occurred_at=last.at + timedelta(days=days),
        delivery_id=None,
        payload={
            "page_id": link.wiki_page_id,
            "days": days,
            "active_days": active_days,
            "facts": facts,
        },
    )
