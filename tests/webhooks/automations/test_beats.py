"""Beats: numbering and starts for each rhythm and time zone, the grace after a start, only
active constellations, and what a reminder says (the last beat's activity and the open
questions), from activity rows on a real store and titles from the forum sandbox."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.constellations.models import PageTopicLink
from community.credits.models import Account, Person
from community.partners.models import Partner
from connectors.discourse.client import ForumClient
from core.config import DEFAULTS, Settings
from core.event_kinds import BEAT_STARTED
from core.events import Event
from core.store import Store
from tests.conftest import SessionForum
from webhooks.automations.beats import beat_events, current_beat

LONDON = ZoneInfo("Europe/London")
FORUM_URL = "http://forum.example"
OURS = "constellate"
ids = itertools.count(7_000_001)  # far above the ids the shared forum sandbox hands out


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def settings() -> Settings:
    made = copy.deepcopy(DEFAULTS)
    made["automations"]["time_zone"] = "Europe/London"
    made["forum"].update(url=FORUM_URL, api_username=OURS)
    made["wiki"]["username"] = "Constellate Bot@sync"
    return made


# -- beat arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("beat", "now", "number", "first", "last"),
    [
        ("weekly", at(2026, 1, 5, 0, 0), 1, date(2026, 1, 5), date(2026, 1, 11)),
        ("weekly", at(2026, 1, 20, 10, 0), 3, date(2026, 1, 19), date(2026, 1, 25)),
        ("fortnightly", at(2026, 1, 18, 23, 59), 1, date(2026, 1, 5), date(2026, 1, 18)),
        ("fortnightly", at(2026, 1, 20, 10, 0), 2, date(2026, 1, 19), date(2026, 2, 1)),
        ("monthly", at(2026, 2, 3, 23, 0), 1, date(2026, 1, 5), date(2026, 2, 3)),
        ("monthly", at(2026, 2, 4, 0, 0), 2, date(2026, 2, 4), date(2026, 3, 5)),
        ("monthly", at(2026, 12, 1, 12, 0), 12, date(2026, 12, 1), date(2026, 12, 30)),
    ],
)
def test_beats_are_numbered_from_the_start(
    beat: str, now: datetime, number: int, first: date, last: date
) -> None:
    found = current_beat(date(2026, 1, 5), beat, now, UTC)
    assert found is not None
    assert (found.number, found.first_day, found.last_day) == (number, first, last)
    assert found.starts_at == datetime.combine(first, datetime.min.time(), UTC)


def test_a_beat_starts_at_midnight_in_the_partnership_zone() -> None:
    # 1 June is in British Summer Time: its midnight is 23:00 UTC the day before.
    beat = current_beat(date(2026, 5, 18), "fortnightly", at(2026, 5, 31, 23, 30), LONDON)
    assert beat is not None and (beat.number, beat.first_day) == (2, date(2026, 6, 1))
    assert beat.starts_at == at(2026, 5, 31, 23, 0)
    assert current_beat(date(2026, 5, 18), "weekly", at(2026, 5, 17, 22, 59), LONDON) is None
    assert current_beat(date(2026, 5, 18), "weekly", at(2026, 5, 17, 23, 0), LONDON) is not None


# -- the events --------------------------------------------------------------------------


def constellation(
    session: Session,
    *,
    status: str = "active",
    started: str | None = "2026-01-05",
    beat: str = "weekly",
    archived: bool = False,
    category: bool = True,
) -> PageTopicLink:
    page_id = next(ids)
    link = PageTopicLink(
        wiki_page_id=page_id,
        wiki_title=f"Constellation {page_id}",
        external_id=f"wiki-{page_id}",
        forum_category_id=next(ids) if category else None,
        charter_status=status,
        charter={
            "title": f"Constellation {page_id}",
            "status": status,
            "started": started,
            "beat": beat,
            "lead_partner": "Harbour Food Bank",
        },
        archived_at=at(2026, 1, 1, 0, 0) if archived else None,
    )
    session.add(link)
    session.flush()
    return link


def post(
    session: Session,
    link: PageTopicLink,
    username: str,
    at_time: datetime,
    *,
    topic: int | None = None,
    number: int = 1,
    **flags: Any,
) -> int:
    """A post in the constellation's category; a new topic unless ``topic`` is given."""
    topic_id = topic if topic is not None else next(ids)
    session.add(
        ForumPostActivity(
            post_id=next(ids),
            topic_id=topic_id,
            category_id=link.forum_category_id,
            username=username,
            post_number=number,
            created_at=at_time,
            updated_at=at_time,
            **flags,
        )
    )
    session.flush()
    return topic_id


def person(session: Session, organisation: str | None, *usernames: str) -> None:
    someone = Person(organisation=organisation)
    session.add(someone)
    session.flush()
    for name in usernames:
        session.add(Account(platform="forum", username=name, person_id=someone.id))
    session.flush()


def events(session: Session, now: datetime, forum: ForumClient | None = None) -> list[Event]:
    return beat_events(session, settings(), now=now, forum=forum)


def facts(event: Event) -> dict[str, Any]:
    value: dict[str, Any] = event.payload["facts"]
    return value


# 2026-01-05 + 2 weeks: the third weekly beat starts on 19 January, 00:00 (London = UTC).
BEAT_3 = at(2026, 1, 19, 0, 0)


def test_an_active_constellation_gets_one_event_per_beat_within_the_grace(store: Store) -> None:
    with store.session() as session:
        link = constellation(session)
        [event] = events(session, BEAT_3 + timedelta(hours=23))
        assert event.event_id == f"schedule:beat:{link.wiki_page_id}:2026-01-19"
        assert (event.kind, event.source, event.actor) == (BEAT_STARTED, "schedule", None)
        assert event.subject == f"constellation:{link.wiki_page_id}"
        assert event.occurred_at == BEAT_3
        assert event.payload == {
            "page_id": link.wiki_page_id,
            "category_id": link.forum_category_id,
            "beat_number": 3,
            "beat_start": "2026-01-19",
            "beat_end": "2026-01-25",
            "facts": {
                "beat_number": 3,
                "beat_start": "2026-01-19",
                "beat_end": "2026-01-25",
                "last_beat_summary": "no posts in the last beat",
                "open_questions": "none open",
            },
        }
        # The same beat found again makes the same event (the inbox keeps one).
        assert [e.event_id for e in events(session, BEAT_3 + timedelta(hours=24))] == [
            event.event_id
        ]
        # Found too late (the service was down): no reminder for this beat.
        assert events(session, BEAT_3 + timedelta(hours=24, minutes=1)) == []
        assert events(session, BEAT_3 - timedelta(minutes=1)) == []  # the previous beat's end


def test_only_active_constellations_with_a_start_and_a_category_have_beats(
    store: Store,
) -> None:
    with store.session() as session:
        active = constellation(session)
        constellation(session, status="forming")
        constellation(session, status="dormant")
        constellation(session, status="sunset")
        constellation(session, archived=True)
        constellation(session, started=None)
        constellation(session, category=False)
        constellation(session, started="2026-02-01")  # not started yet
        fortnightly = constellation(session, beat="fortnightly", started="2026-01-19")
        monthly = constellation(session, beat="monthly", started="2025-12-20")  # beat 2
        found = {e.payload["page_id"]: e.payload["beat_number"] for e in events(session, BEAT_3)}
        assert found == {
            active.wiki_page_id: 3,
            fortnightly.wiki_page_id: 1,
            monthly.wiki_page_id: 2,
        }
        first = next(
            e for e in events(session, BEAT_3) if e.payload["page_id"] == fortnightly.wiki_page_id
        )
        assert facts(first)["last_beat_summary"] == "this is the first beat"


def test_the_summary_counts_the_last_beats_counted_posts(store: Store) -> None:
    with store.session() as session:
        link = constellation(session)
        previous = BEAT_3 - timedelta(days=7)
        person(session, "Harbour Food Bank", "alice", "alice_work")  # one person, two accounts
        person(session, "North Pantry", "bob")
        person(session, None, "carol")
        first = post(session, link, "alice", previous + timedelta(hours=1))
        post(session, link, "bob", previous + timedelta(hours=2), topic=first, number=2)
        post(session, link, "alice_work", previous + timedelta(hours=3), topic=first, number=3)
        second = post(session, link, "carol", previous + timedelta(days=6, hours=23))
        post(session, link, "alice", BEAT_3 - timedelta(seconds=1), topic=second, number=2)
        # Not counted: before or after the beat, ours, deleted, private, a whisper, a
        # small action, hidden.
        post(session, link, "bob", previous - timedelta(seconds=1))
        post(session, link, "bob", BEAT_3, topic=first, number=4)
        post(session, link, OURS, previous + timedelta(hours=5))
        post(session, link, "Constellate_Bot", previous + timedelta(hours=5))  # our wiki account
        post(session, link, "system", previous + timedelta(hours=5), topic=first, number=5)
        post(session, link, "dave", previous + timedelta(hours=6), deleted=True)
        post(session, link, "dave", previous + timedelta(hours=6), private=True)
        post(
            session, link, "dave", previous + timedelta(hours=6), topic=first, number=6, post_type=4
        )
        post(
            session, link, "dave", previous + timedelta(hours=6), topic=first, number=7, post_type=3
        )
        post(
            session, link, "dave", previous + timedelta(hours=6), topic=first, number=8, hidden=True
        )
        [event] = events(session, BEAT_3 + timedelta(hours=1))
        assert facts(event)["last_beat_summary"] == (
            "2 topics, 5 posts by 3 people from 2 organisations"
        )
        post(session, link, "erin", previous + timedelta(days=1))
        [event] = events(session, BEAT_3 + timedelta(hours=1))
        assert facts(event)["last_beat_summary"] == (
            "3 topics, 6 posts by 4 people from 2 organisations"
        )


def test_the_summary_speaks_of_one_and_leaves_organisations_out_when_none_known(
    store: Store,
) -> None:
    with store.session() as session:
        link = constellation(session)
        post(session, link, "zoe", BEAT_3 - timedelta(days=2))
        [event] = events(session, BEAT_3)
        assert facts(event)["last_beat_summary"] == "1 topic, 1 post by 1 person"


def test_an_organisation_named_either_way_is_one(store: Store) -> None:
    with store.session() as session:
        session.add(Partner(group_name="harbour-food", name="Harbour Food Bank"))
        link = constellation(session)
        person(session, "harbour-food", "hana")
        person(session, "Harbour Food Bank", "hugo")
        post(session, link, "hana", BEAT_3 - timedelta(days=2))
        post(session, link, "hugo", BEAT_3 - timedelta(days=1))
        [event] = events(session, BEAT_3)
        assert facts(event)["last_beat_summary"] == (
            "2 topics, 2 posts by 2 people from 1 organisation"
        )


def test_open_questions_are_the_unanswered_topics_of_the_last_two_beats(store: Store) -> None:
    with store.session() as session:
        link = constellation(session)
        two_back = BEAT_3 - timedelta(days=14)
        person(session, None, "frank", "frank_alt")
        lonely = post(session, link, "carol", two_back + timedelta(days=1))
        answered = post(session, link, "dave", two_back + timedelta(days=2))
        post(session, link, "erin", two_back + timedelta(days=3), topic=answered, number=2)
        own_reply = post(session, link, "frank", two_back + timedelta(days=4))
        post(session, link, "frank_alt", two_back + timedelta(days=5), topic=own_reply, number=2)
        bot_reply = post(session, link, "gina", two_back + timedelta(days=6))
        post(session, link, OURS, two_back + timedelta(days=6, hours=1), topic=bot_reply, number=2)
        deleted_reply = post(session, link, "hal", two_back + timedelta(days=7))
        post(
            session,
            link,
            "ivy",
            two_back + timedelta(days=8),
            topic=deleted_reply,
            number=2,
            deleted=True,
        )
        post(session, link, "jo", two_back - timedelta(minutes=1))  # three beats back
        post(session, link, OURS, two_back + timedelta(days=9))  # our own topic
        post(session, link, "kim", two_back + timedelta(days=9), deleted=True)
        [event] = events(session, BEAT_3)
        expected = [deleted_reply, bot_reply, own_reply, lonely]  # newest first
        assert facts(event)["open_questions"] == "\n".join(
            f"- [topic {topic}]({FORUM_URL}/t/{topic})" for topic in expected
        )
        newer = [post(session, link, "lee", BEAT_3 - timedelta(hours=h)) for h in (3, 2, 1)]
        [event] = events(session, BEAT_3)
        shown = [*reversed(newer), deleted_reply, bot_reply]  # at most five
        assert facts(event)["open_questions"] == "\n".join(
            f"- [topic {topic}]({FORUM_URL}/t/{topic})" for topic in shown
        )


def test_open_questions_carry_the_forums_titles_escaped(store: Store, forum: SessionForum) -> None:
    client = ForumClient({"url": forum.url, "api_key": forum.api_key, "api_username": "system"})
    title = f"Pumps *and* [valves] for @{forum.name('everyone')}"
    made = client.create_topic(
        title,
        "Which pumps do you use for the flood barrier?",
        category_id=None,
        external_id=forum.name("beat-question-"),
    )
    with store.session() as session:
        link = constellation(session)
        session.add(
            ForumPostActivity(
                post_id=next(ids),
                topic_id=made.topic_id,
                category_id=link.forum_category_id,
                username="maya",
                post_number=1,
                created_at=BEAT_3 - timedelta(days=1),
                updated_at=BEAT_3 - timedelta(days=1),
            )
        )
        missing = post(session, link, "nina", BEAT_3 - timedelta(days=2))  # not on the forum
        [event] = events(session, BEAT_3, forum=client)
        escaped = title.replace("*", "\\*").replace("[", "\\[").replace("]", "\\]")
        escaped = escaped.replace("@", "\\@")
        assert facts(event)["open_questions"] == (
            f"- [{escaped}]({FORUM_URL}/t/{made.topic_id})\n"
            f"- [topic {missing}]({FORUM_URL}/t/{missing})"
        )
        # A forum that does not answer: the reminder still comes, without titles.
        down = ForumClient(
            {"url": "http://127.0.0.1:9", "api_key": "k", "api_username": "system", "timeout": 2}
        )
        [event] = events(session, BEAT_3, forum=down)
        assert facts(event)["open_questions"].startswith(
            f"- [topic {made.topic_id}]({FORUM_URL}/t/{made.topic_id})\n"
        )
