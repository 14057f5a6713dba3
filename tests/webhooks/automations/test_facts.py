"""The facts of each kind of event: from the payload (a captured Discourse body and a post
written through the forum sandbox), from activity, people and constellation rows on a
real store (SQLite and PostgreSQL), and from the forum only when a fact is used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, WikiChangeActivity, record_post
from community.constellations.charter import page_url
from community.constellations.models import PageTopicLink
from community.credits.models import Person
from community.credits.people import ensure_account
from community.handling import HandlerContext
from community.partners.models import Partner
from community.practices.adoption import adoption_event
from community.practices.models import Practice, PracticeAdoption
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiChange
from core.config import Settings, load_config
from core.events import Event
from core.store import Store
from sandbox.forum.serial_posts import webhook_post
from tests.conftest import SessionForum
from webhooks.automations.facts import gather
from webhooks.automations.templates import Trusted
from webhooks.automations.vocabulary import (
    ALERT_RAISED,
    STATUS_CHANGED,
    TOPIC_UNANSWERED,
    Facts,
)
from webhooks.incoming.discourse_events import normalise
from webhooks.incoming.wiki_events import change_event

FIXTURES = Path(__file__).parent.parent.parent / "fixtures" / "discourse"
SERVICE = "https://constellate.example.org"
WIKI = "https://wiki.example.org"
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
CHARTER = {
    "title": "Flood Wardens Network",
    "goal": "Keep streets dry",
    "lead_partner": "Riverlands Water Trust",
    "partners": ["Riverlands Water Trust", "Harbour Council"],
    "stewards": ["Ana", "Ben"],
    "status": "active",
    "started": "2026-01-05",
    "term_end": None,
    "beat": "weekly",
    "forum_category": "flood-wardens",
}


class CountedForum:
    """The ``forum`` callable gather takes, counting the requests made through it."""

    def __init__(self, settings: Settings) -> None:
        self.client = ForumClient(settings["forum"])

    def __call__(self) -> ForumClient:
        return self.client

    @property
    def requests(self) -> int:
        return sum(self.client.request_counts.values())


def make_settings(forum: SessionForum, **sections: dict[str, Any]) -> Settings:
    """Settings for the session's forum sandbox (the wiki only named, unless given)."""
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40, "base_url": SERVICE},
            "wiki": {"url": WIKI, "username": "Bot@constellate", "password": "unused-here"},
            "forum": {
                "url": forum.url,
                "api_key": forum.api_key,
                "api_username": forum.api_username,
            },
            "worker": {"embedded": False},
            **sections,
        },
    )


@pytest.fixture
def settings(forum: SessionForum) -> Settings:
    return make_settings(forum)


def fixture_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))["body"]
    return body


def forum_event(event_name: str, body: Mapping[str, Any]) -> Event:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return normalise(event_name, body, raw, delivery_id=None, received=T0)


def post_event(**changes: Any) -> Event:
    """The captured post_created body with some post fields changed."""
    body = fixture_body("post__post_created")
    body["post"].update(changes)
    return forum_event("post_created", body)


def recorded(session: Session, settings: Settings, event: Event) -> None:
    record_post(event, HandlerContext(session, settings))
    session.flush()


def activity(
    session: Session, post_id: int, topic_id: int, username: str, at: datetime, number: int = 1
) -> None:
    session.add(
        ForumPostActivity(
            post_id=post_id,
            topic_id=topic_id,
            category_id=1,
            username=username,
            post_number=number,
            created_at=at,
            updated_at=at,
        )
    )
    session.flush()


def link(session: Session, page_id: int = 4242, category_id: int = 77) -> PageTopicLink:
    made = PageTopicLink(
        wiki_page_id=page_id,
        wiki_title="Flood Wardens Network",
        external_id=f"constellate-page-{page_id}",
        forum_category_id=category_id,
        category_name="Flood Wardens",
        charter=CHARTER,
        charter_status="active",
    )
    session.add(made)
    session.add(Partner(group_name="water-trust", name="Riverlands Water Trust"))
    session.flush()
    return made


def gathered(store: Store, settings: Settings, event: Event) -> tuple[Facts, CountedForum]:
    forum = CountedForum(settings)
    with store.session() as session:
        return gather(event, session, settings, forum=forum), forum


# -- forum posts ----------------------------------------------------------------------------


def test_the_facts_of_a_captured_post_created_body(
    store: Store, settings: Settings, forum: SessionForum
) -> None:
    event = post_event()
    forum_client = CountedForum(settings)
    with store.session() as session:
        recorded(session, settings, event)
        facts = gather(event, session, settings, forum=forum_client)
        assert "related_practices" in facts  # its text relates to nothing: the wiki's list
    expected = {
        "event_kind": "forum.post_created",
        "event_id": "forum:post_created:post:2",
        "subject": "post:2",
        "actor": "system",
        "occurred_at": "2026-11-21T05:40:17.957000+00:00",
        "service_url": SERVICE,
        "topic_id": 1,
        "topic_title": "Captured topic for fixtures here",
        "category_id": 1,
        "post_id": 2,
        "post_number": 2,
        "author": "system",
        "author_name": "system",
        "text": "A reply to the first post, long enough to pass.",
        "trust_level": 4,
        "is_original_post": False,
        "is_private": False,
        "is_first_post": True,
        "is_newcomer": True,
        "topic_url": f"{forum.url}/t/captured-topic-for-fixtures-here/1",
        "post_url": f"{forum.url}/t/captured-topic-for-fixtures-here/1/2",
    }
    assert {key: facts[key] for key in expected} == expected
    for key in ("topic_url", "post_url", "service_url", "related_practices"):
        assert isinstance(facts[key], Trusted), key
    assert not isinstance(facts["topic_title"], Trusted)
    assert "idle_hours" not in facts  # no earlier post of the topic on record
    assert "constellation" not in facts and "organisation" not in facts
    assert forum_client.requests == 0  # nothing asked the forum


def test_a_post_written_through_the_sandbox_and_its_lazy_facts(
    store: Store, settings: Settings, forum: SessionForum
) -> None:
    admin = ForumClient(settings["forum"])
    author = forum.name("ana")
    admin.create_user(author, "Ana Lima", f"{author}@example.org")
    group = admin.create_group(forum.name("org"), full_name="Riverlands Water Trust")
    admin.add_group_members(group, [author])
    category = admin.create_category(forum.name("Wardens "))
    title = f"How do partners run a weekly win call? ({forum.name('ref')})"
    created = admin.acting_as(author).create_topic(
        title,
        "We would like a weekly win call with our partners, who runs one already?",
        category_id=category.id,
        external_id=forum.name("facts-"),
    )
    tag = forum.name("tools")
    admin.update_topic(created.topic_id, tags=[tag])
    with forum.forum.lock:
        assert created.post_id is not None
        body = {"post": webhook_post(forum.forum, forum.forum.table("posts")[created.post_id])}
        slug = forum.forum.table("topics")[created.topic_id]["slug"]
    event = forum_event("post_created", body)

    counted = CountedForum(settings)
    with store.session() as session:
        recorded(session, settings, event)
        session.add(Practice(page_id=1, title="Weekly win call", tag="weekly-win-call", revid=1))
        session.add(Practice(page_id=2, title="Sandbag depot map", tag="sandbag-map", revid=1))
        facts = gather(event, session, settings, forum=counted)
        assert counted.requests == 0
        assert facts["author"] == author and facts["author_name"] == "Ana Lima"
        assert facts["topic_title"] == title
        assert facts["is_original_post"] is True and facts["is_private"] is False
        assert facts["trust_level"] == 0
        assert counted.requests == 0  # all of these were in the payload

        assert facts["tags"] == [tag]
        after_topic = counted.requests
        assert after_topic > 0
        assert facts["category"] == category.name
        assert group.name in facts["groups"]
        assert facts["topic_url"] == f"{forum.url}/t/{slug}/{created.topic_id}"
        used = counted.requests
        assert facts["tags"] == [tag] and group.name in facts["groups"]
        assert counted.requests == used  # each lookup happens once

        related = facts["related_practices"]
        assert isinstance(related, Trusted)
        assert "[Weekly win call](" in related and "Sandbag" not in related


def test_first_post_newcomer_and_idle_hours_from_the_activity_record(
    store: Store, settings: Settings
) -> None:
    created = T0 - timedelta(hours=1)
    with store.session() as session:
        # An old hand: first posted 40 days ago; the topic's last post was 5 hours ago.
        activity(session, 9001, 500, "oldhand", created - timedelta(days=40))
        activity(session, 9002, 1, "someone", created - timedelta(hours=5), number=1)
        old = gather(
            post_event(id=9003, username="oldhand", created_at=created.isoformat()),
            session,
            settings,
            forum=CountedForum(settings),
        )
        # Someone who first posted 10 days ago, elsewhere.
        activity(session, 9004, 501, "recent", created - timedelta(days=10))
        recent = gather(
            post_event(id=9005, username="recent", created_at=created.isoformat()),
            session,
            settings,
            forum=CountedForum(settings),
        )
        # A first post (a later post by the same person does not count as earlier).
        activity(session, 9010, 502, "fresh", created + timedelta(hours=2))
        fresh = gather(
            post_event(id=9006, username="fresh", created_at=created.isoformat()),
            session,
            settings,
            forum=CountedForum(settings),
        )
    assert (old["is_first_post"], old["is_newcomer"], old["idle_hours"]) == (False, False, 5.0)
    assert (recent["is_first_post"], recent["is_newcomer"]) == (False, True)
    assert (fresh["is_first_post"], fresh["is_newcomer"]) == (True, True)


def test_the_organisation_of_the_author(store: Store, settings: Settings) -> None:
    with store.session() as session:
        account = ensure_account(session, "forum", "ana")
        session.get_one(Person, account.person_id).organisation = "Riverlands Water Trust"
        session.add(Partner(group_name="water-trust", name="Riverlands Water Trust"))
        session.flush()
        facts = gather(post_event(username="ana"), session, settings, forum=CountedForum(settings))
        nobody = gather(post_event(username="bob"), session, settings, forum=CountedForum(settings))
    assert facts["organisation"] == "Riverlands Water Trust"
    assert facts["organisation_group"] == "water-trust"
    assert "organisation" not in nobody


def test_constellation_facts_of_a_post_in_its_category(store: Store, settings: Settings) -> None:
    with store.session() as session:
        link(session, page_id=4242, category_id=77)
        facts = gather(post_event(category_id=77), session, settings, forum=CountedForum(settings))
        elsewhere = gather(
            post_event(category_id=78), session, settings, forum=CountedForum(settings)
        )
    assert {key: facts[key] for key in CHARTER_FACTS} == {
        "constellation": "Flood Wardens Network",
        "page_title": "Flood Wardens Network",
        "page_url": page_url(settings, "Flood Wardens Network"),
        "lead_partner": "Riverlands Water Trust",
        "lead_group": "water-trust",
        "partners": ["Riverlands Water Trust", "Harbour Council"],
        "stewards": ["Ana", "Ben"],
        "status": "active",
        "beat": "weekly",
        "constellation_category_id": 77,
    }
    assert isinstance(facts["page_url"], Trusted)
    assert "constellation" not in elsewhere


CHARTER_FACTS = (
    "constellation",
    "page_title",
    "page_url",
    "lead_partner",
    "lead_group",
    "partners",
    "stewards",
    "status",
    "beat",
    "constellation_category_id",
)


# -- forum topics -----------------------------------------------------------------------------


def test_the_facts_of_a_topic_event(store: Store, settings: Settings, forum: SessionForum) -> None:
    facts, counted = gathered(
        store, settings, forum_event("topic_created", fixture_body("topic__topic_created"))
    )
    expected = {
        "event_kind": "forum.topic_created",
        "subject": "topic:1",
        "topic_id": 1,
        "topic_title": "Captured topic for fixtures here",
        "category_id": 1,
        "tags": ["flood", "wardens"],
        "author": "system",
        "author_name": "system",
        "text": "Captured topic for fixtures here",
        "is_private": False,
        "topic_url": f"{forum.url}/t/captured-topic-for-fixtures-here/1",
    }
    assert {key: facts[key] for key in expected} == expected
    assert "post_id" not in facts and "is_first_post" not in facts
    assert counted.requests == 0


def test_an_unanswered_topic_is_looked_up_on_the_forum_only_when_used(
    store: Store, settings: Settings, forum: SessionForum
) -> None:
    admin = ForumClient(settings["forum"])
    category = admin.create_category(forum.name("Quiet "))
    title = f"A question nobody has answered yet ({forum.name('ref')})"
    created = admin.create_topic(
        title,
        "Does anyone have a checklist for the flood wardens' night shifts?",
        category_id=category.id,
        external_id=forum.name("unanswered-"),
        tags=[tag := forum.name("shift")],
    )
    event = Event(
        event_id=f"schedule:unanswered:{created.topic_id}",
        kind=TOPIC_UNANSWERED,
        source="schedule",
        subject=f"topic:{created.topic_id}",
        actor=None,
        occurred_at=T0,
        delivery_id=None,
        payload={"topic_id": created.topic_id, "hours": 48, "facts": {"hours_unanswered": 50}},
    )
    counted = CountedForum(settings)
    with store.session() as session:
        link(session, page_id=5151, category_id=category.id)
        facts = gather(event, session, settings, forum=counted)
        assert facts["hours_unanswered"] == 50 and facts["topic_id"] == created.topic_id
        assert counted.requests == 0
        assert facts["constellation"] == "Flood Wardens Network"
        assert facts["topic_title"] == title
        assert facts["tags"] == [tag]
        assert facts["category_id"] == category.id
        assert facts["category"] == "Flood Wardens"  # the name kept on the link
        assert isinstance(facts["topic_url"], Trusted)
        missing = Event(
            event_id="schedule:unanswered:gone",
            kind=TOPIC_UNANSWERED,
            source="schedule",
            subject="topic:987654321",
            actor=None,
            occurred_at=T0,
            delivery_id=None,
            payload={"topic_id": 987654321, "hours": 48},
        )
        gone = gather(missing, session, settings, forum=counted)
        assert "topic_title" not in gone and "constellation" not in gone


# -- wiki, alerts, practices, status ----------------------------------------------------------


def test_the_facts_of_a_wiki_edit(store: Store, settings: Settings) -> None:
    change = WikiChange(
        cursor="c",
        rcid=71,
        type="edit",
        title="Flood Wardens Network",
        ns=0,
        pageid=4242,
        revid=812,
        old_revid=811,
        timestamp=T0,
        user="Ana",
        comment="Added the [[night shift]] rota",
        bot=False,
        minor=False,
        old_size=10,
        new_size=20,
    )
    with store.session() as session:
        link(session, page_id=4242)
        session.add(
            WikiChangeActivity(
                change_key="rc:70",
                rcid=70,
                revid=811,
                title="Flood Wardens Network",
                user="Ben",
                timestamp=T0 - timedelta(hours=3, minutes=30),
                type="edit",
            )
        )
        account = ensure_account(session, "wiki", "Ana")
        session.get_one(Person, account.person_id).organisation = "Harbour Council"
        facts = gather(change_event(change), session, settings, forum=CountedForum(settings))
    assert facts["page_title"] == "Flood Wardens Network"
    assert facts["page_url"] == page_url(settings, "Flood Wardens Network")
    assert isinstance(facts["page_url"], Trusted)
    assert (facts["author"], facts["revid"]) == ("Ana", 812)
    assert facts["comment"] == facts["text"] == "Added the [[night shift]] rota"
    assert facts["idle_hours"] == 3.5
    assert facts["organisation"] == "Harbour Council"
    assert facts["constellation"] == "Flood Wardens Network" and facts["beat"] == "weekly"


def test_the_facts_of_a_health_alert(store: Store, settings: Settings) -> None:
    event = Event(
        event_id="health:alert:3:raised",
        kind=ALERT_RAISED,
        source="community",
        subject="constellation:4242",
        actor=None,
        occurred_at=T0,
        delivery_id=None,
        payload={
            "id": 3,
            "rule": "unanswered",
            "scope": "constellation:4242",
            "label": "Flood Wardens Network",
            "metric": "unanswered.rate",
            "window_days": 30,
            "value": 0.4,
            "threshold": 0.3,
            "title": "Unanswered topics",
            "message": "Unanswered topics in Flood Wardens Network: 40%",
            "raised_at": T0.isoformat(),
            "resolved_at": None,
        },
    )
    with store.session() as session:
        link(session, page_id=4242)
        facts = gather(event, session, settings, forum=CountedForum(settings))
    assert {key: facts[key] for key in ("alert_id", "alert_rule", "alert_state", "value")} == {
        "alert_id": 3,
        "alert_rule": "unanswered",
        "alert_state": "raised",
        "value": 0.4,
    }
    assert facts["alert_title"] == "Unanswered topics" and facts["threshold"] == 0.3
    assert facts["scope"] == "constellation:4242"
    assert facts["scope_label"] == "Flood Wardens Network"
    assert facts["alert_message"].startswith("Unanswered topics in")
    assert facts["metric"] == "unanswered.rate"
    assert facts["lead_group"] == "water-trust"


def test_the_facts_of_a_practice_adoption(store: Store, settings: Settings) -> None:
    practice = Practice(
        page_id=61,
        title="Weekly win call",
        tag="weekly-win-call",
        originating_organisation="Harbour Food Bank",
        revid=5,
    )
    adopted = PracticeAdoption(
        page_id=61, organisation="North Pantry", source="template", adopted_at=T0
    )
    facts, _ = gathered(store, settings, adoption_event(practice, adopted))
    assert {key: facts[key] for key in ("practice", "practice_tag", "organisation")} == {
        "practice": "Weekly win call",
        "practice_tag": "weekly-win-call",
        "organisation": "North Pantry",
    }
    assert facts["originating_organisation"] == "Harbour Food Bank"
    assert facts["practice_url"] == page_url(settings, "Weekly win call")
    assert isinstance(facts["practice_url"], Trusted)
    assert "constellation" not in facts


def test_the_facts_of_a_status_change(store: Store, settings: Settings) -> None:
    event = Event(
        event_id="community:status:4242:1",
        kind=STATUS_CHANGED,
        source="community",
        subject="page:Flood Wardens Network",
        actor=None,
        occurred_at=T0,
        delivery_id=None,
        payload={
            "page_id": 4242,
            "title": "Flood Wardens Network",
            "old_status": "forming",
            "new_status": "active",
        },
    )
    with store.session() as session:
        link(session, page_id=4242)
        facts = gather(event, session, settings, forum=CountedForum(settings))
    assert (facts["old_status"], facts["new_status"]) == ("forming", "active")
    assert facts["constellation"] == "Flood Wardens Network"
    assert facts["lead_partner"] == "Riverlands Water Trust"
