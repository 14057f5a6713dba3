"""Beats: the rhythm a constellation's charter sets (weekly, fortnightly, monthly from its
``started`` date), the event at the start of each, and what it offers a reminder: a
summary of the last beat and the questions still open.

Beat n (1-based) starts at 00:00 in the partnership's time zone, ``(n - 1) * length``
days after ``started``. A beat found later than ``automations.beat_grace_hours`` after its
start (the service was down) gets no event: a reminder days late would mislead.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.constellations.charter import BEAT_DAYS
from community.constellations.models import PageTopicLink
from community.credits.models import Account, Person
from community.credits.rules import normalise
from community.partners.names import Organisations
from connectors.discourse.client import ForumClient
from core.config import Settings
from core.errors import ConfigError, ConnectorError, Unavailable
from core.event_kinds import BEAT_STARTED
from core.events import Event
from core.models import InboxEvent
from webhooks.automations.scans import answered, constellations, counted, excluded_authors
from webhooks.automations.scans import openings as opening_posts
from webhooks.automations.templates import escape_markdown

log = logging.getLogger(__name__)

MAX_QUESTIONS = 5
QUESTION_BEATS = 2  # open questions: topics opened in the last two beats
NO_POSTS = "no posts in the last beat"
FIRST_BEAT = "this is the first beat"
NONE_OPEN = "none open"


def partnership_zone(settings: Settings) -> ZoneInfo:
    """``automations.time_zone``, in which schedules and beats are read."""
    name = str(settings["automations"].get("time_zone") or "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"automations.time_zone: {name!r} is not a known time zone (an IANA name such "
            "as Europe/London)"
        ) from None


@dataclass(frozen=True)
class Beat:
    started: date  # the charter's start: beat 1's first day
    length: int  # days
    number: int  # 1-based (0 and less: the beats a start would have had before)
    zone: tzinfo

    @property
    def first_day(self) -> date:
        return self.started + timedelta(days=(self.number - 1) * self.length)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.length - 1)

    @property
    def starts_at(self) -> datetime:
        """00:00 of its first day in the partnership's zone, as UTC."""
        return _midnight(self.first_day, self.zone)

    def earlier(self, beats: int) -> Beat:
        return replace(self, number=self.number - beats)


def current_beat(started: date, beat: str, now: datetime, zone: tzinfo) -> Beat | None:
    """The beat containing ``now``; None before the first one starts."""
    length = BEAT_DAYS[beat]
    today = now.astimezone(zone).date()
    if today < started:
        return None
    return Beat(started, length, (today - started).days // length + 1, zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def beat_events(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    forum: ForumClient | None = None,
    skip_recorded: bool = False,
) -> list[Event]:
    """The beat-start event of every active constellation whose current beat began at
    most ``automations.beat_grace_hours`` ago. ``forum`` (optional) gives the open
    questions their titles; ``skip_recorded`` leaves out events the inbox already has."""
    zone = partnership_zone(settings)
    grace = timedelta(hours=float(settings["automations"]["beat_grace_hours"]))
    excluded = excluded_authors(session, settings)
    titles = _Titles(forum)
    events: list[Event] = []
    for link in constellations(session, ("active",)):
        charter = link.charter or {}
        started, beat_name = charter.get("started"), charter.get("beat")
        if not started or beat_name not in BEAT_DAYS:
            continue
        beat = current_beat(date.fromisoformat(str(started)), str(beat_name), now, zone)
        if beat is None or now - beat.starts_at > grace:
            continue
        if skip_recorded and _recorded(session, _event_id(link, beat)):
            continue
        events.append(_event(session, settings, link, beat, now, excluded, titles))
    return events


def _event(
    session: Session,
    settings: Settings,
    link: PageTopicLink,
    beat: Beat,
    now: datetime,
    excluded: Collection[str],
    titles: _Titles,
) -> Event:
    assert link.forum_category_id is not None
    category = link.forum_category_id
    if beat.number == 1:
        summary = FIRST_BEAT
    else:
        since = beat.earlier(1).starts_at
        summary = last_beat_summary(session, excluded, category, since, beat.starts_at)
    questions = open_questions(
        session,
        excluded,
        category,
        since=beat.earlier(QUESTION_BEATS).starts_at,
        now=now,
        forum_url=str(settings["forum"].get("url") or ""),
        titles=titles,
    )
    facts = {
        "beat_number": beat.number,
        "beat_start": beat.first_day.isoformat(),
        "beat_end": beat.last_day.isoformat(),
        "last_beat_summary": summary,
        "open_questions": questions,
    }
    return Event(
        event_id=_event_id(link, beat),
        kind=BEAT_STARTED,
        source="schedule",
        subject=f"constellation:{link.wiki_page_id}",
        actor=None,
        occurred_at=beat.starts_at,
        delivery_id=None,
        payload={
            "page_id": link.wiki_page_id,
            "category_id": category,
            "beat_number": beat.number,
            "beat_start": facts["beat_start"],
            "beat_end": facts["beat_end"],
            "facts": facts,
        },
    )


def _event_id(link: PageTopicLink, beat: Beat) -> str:
    return f"schedule:beat:{link.wiki_page_id}:{beat.first_day.isoformat()}"


def _recorded(session: Session, event_id: str) -> bool:
    found = session.scalar(select(InboxEvent.id).where(InboxEvent.event_id == event_id))
    return found is not None


# -- what the reminder says --------------------------------------------------------------


def last_beat_summary(
    session: Session,
    excluded: Collection[str],
    category_id: int,
    since: datetime,
    until: datetime,
) -> str:
    """One Markdown line: "4 topics, 17 posts by 6 people from 3 organisations" (the
    organisations when any of the people has one), counting posts in ``[since, until)``."""
    post = ForumPostActivity
    query = (
        select(post.topic_id, post.username, Account.person_id, Person.organisation)
        .outerjoin(Account, (Account.platform == "forum") & (Account.username == post.username))
        .outerjoin(Person, Person.id == Account.person_id)
        .where(
            post.category_id == category_id,
            post.created_at >= since,
            post.created_at < until,
            *counted(),
        )
    )
    rows = [row for row in session.execute(query) if normalise(row[1]) not in excluded]
    if not rows:
        return NO_POSTS
    topics = {topic for topic, _, _, _ in rows}
    people = {
        f"person:{person}" if person is not None else f"forum:{normalise(name)}"
        for _, name, person, _ in rows
    }
    organisations = Organisations.read(session)
    partners = {organisations.canonical(org) for _, _, _, org in rows if org}
    text = f"{_count(len(topics), 'topic')}, {_count(len(rows), 'post')} by "
    text += _count(len(people), "person", "people")
    if partners:
        text += f" from {_count(len(partners), 'organisation')}"
    return text


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def open_questions(
    session: Session,
    excluded: Collection[str],
    category_id: int,
    *,
    since: datetime,
    now: datetime,
    forum_url: str,
    titles: _Titles,
) -> str:
    """A Markdown list of the (at most five) newest topics opened since ``since`` that no
    other person answered yet; "none open" when there are none."""
    found = opening_posts(session, excluded, [category_id], since, now)
    done = answered(session, excluded, {o.topic_id: o.username for o in found})
    waiting = [o.topic_id for o in found if o.topic_id not in done][:MAX_QUESTIONS]
    if not waiting:
        return NONE_OPEN
    base = forum_url.rstrip("/")
    return "\n".join(f"- [{titles.title(topic)}]({base}/t/{topic})" for topic in waiting)


class _Titles:
    """Topic titles read from the forum, escaped; "topic <id>" without a forum, or once
    it failed (one failure is enough: the reminder must not wait on a forum that is down)."""

    def __init__(self, forum: ForumClient | None) -> None:
        self._forum = forum

    def title(self, topic_id: int) -> str:
        fallback = f"topic {topic_id}"
        if self._forum is None:
            return fallback
        try:
            return escape_markdown(self._forum.get_topic(topic_id).title)
        except Unavailable as exc:
            log.warning("beats: the forum is unavailable (%s); topics go without titles", exc)
            self._forum = None
        except ConnectorError as exc:  # this topic only (gone, or not ours to read)
            log.warning("beats: topic %s has no title for us (%s)", topic_id, exc)
        return fallback
