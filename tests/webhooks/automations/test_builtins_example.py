"""The four built-in rules on the seeded example partnership, end to end: the real wiki,
a forum sandbox seeded with the example, its history read into the store, the scheduler
run at chosen moments, and the real worker doing what the rules say on the forum."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community.constellations.charter import BEAT_DAYS
from community.constellations.models import PageTopicLink
from community.credits import people
from connectors.discourse import ForumClient
from connectors.discourse.records import Topic
from core.config import Settings
from core.errors import NotFound, PermissionDenied
from core.store import Store
from sandbox.example import EXAMPLE, Constellation
from service.main import main
from service.worker import Worker
from tests.conftest import SessionWiki, served_wiki
from tests.example_support import seeded_example
from webhooks.automations import scheduler
from webhooks.automations.models import AutomationRun
from webhooks.incoming.forum_poll import poll_forum
from webhooks.incoming.wiki_poll import poll_wiki


@dataclass
class Example:
    settings: Settings
    store: Store
    forum: ForumClient
    wiki: SessionWiki
    config_path: Path
    now: datetime


@pytest.fixture(scope="module")
def example_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    """A wiki of its own: the example's pages must not exist before other tests seed them."""
    yield from served_wiki(tmp_path_factory.mktemp("automations-wiki"))


@pytest.fixture(scope="module")
def example(
    example_wiki: SessionWiki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    wiki = example_wiki
    directory = tmp_path_factory.mktemp("automations-example")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # A charter edited a day before counts as stale here: the store sees only the edits
    # made after the seed (the wiki's history is not backfilled here).
    with seeded_example(wiki, directory, now, automations={"stale_charter_days": 1}) as seeded:
        result = CliRunner().invoke(
            main, ["--config", str(seeded.config_path), "backfill", "--forum"]
        )
        assert result.exit_code == 0, result.output  # the forum's history
        poll_forum(seeded.store, seeded.settings)  # the cursor starts now: later posts are events
        poll_wiki(seeded.store, seeded.settings)
        example = Example(
            seeded.settings, seeded.store, seeded.forum, wiki, seeded.config_path, now
        )
        work(example)  # the wiki's first changes: nothing for the rules yet
        yield example


def work(example: Example) -> None:
    """The real worker (on the real clock: events are due from when they were recorded),
    until the inbox is empty."""
    worker = Worker(example.store, example.settings)
    while worker.run_once():
        pass


def scan(example: Example, at: datetime) -> int:
    """What the worker's scheduler does every minute, at ``at``."""
    return scheduler.record_due_for_rules(example.store, example.settings, now=at)


def rule_topic(example: Example, rule: str, event_id: str, as_user: str) -> Topic:
    """The topic or message a rule's first action made for an event (by its external id)."""
    digest = hashlib.sha256(f"{rule}|{event_id}|0".encode()).hexdigest()[:24]
    found = example.forum.acting_as(as_user).topic_by_external_id(f"constellate-rule-{digest}")
    assert found is not None, (rule, event_id)
    return example.forum.acting_as(as_user).get_topic(found.id)


def runs(example: Example, rule: str) -> list[AutomationRun]:
    with example.store.session() as session:
        found = session.scalars(select(AutomationRun).where(AutomationRun.rule == rule))
        return list(found)


def named(name: str) -> Constellation:
    return next(c for c in EXAMPLE.constellations if c.name == name)


def test_a_beat_reminder_appears_at_the_start_of_a_beat(example: Example) -> None:
    flood = named("Flood Wardens Network")
    assert flood.status == "active"  # beats are kept by active constellations only
    length = BEAT_DAYS[flood.beat]
    started = flood.started(example.now)
    number = (example.now.date() - started).days // length + 1
    start = started + timedelta(days=(number - 1) * length)
    at = datetime.combine(start, time(1, 0), UTC)  # an hour into the beat (zone: UTC)
    assert scan(example, at) >= 1
    work(example)
    event_id = f"schedule:beat:{page_id(example, flood.name)}:{start.isoformat()}"
    topic = rule_topic(example, "beat-reminders", event_id, example.forum.username)
    assert topic.title == f"{flood.name}: beat {number} starts {start.isoformat()}"
    assert topic.category_id == category_id(example, flood.name)
    first = topic.posts[0].raw or ""
    assert "**Last beat:**" in first and "Riverlands Water Trust" in first  # the lead
    assert scan(example, at + timedelta(minutes=10)) == 0  # once per beat
    work(example)
    assert [r.state for r in runs(example, "beat-reminders") if r.event_id == event_id] == ["done"]


def test_an_unanswered_topic_nudges_the_lead_group(example: Example) -> None:
    soil = named("Soil and Water Farming")
    author = next(p.username for p in EXAMPLE.people if p.organisation != soil.lead_partner)
    opened = example.now - timedelta(hours=50)
    created = example.forum.acting_as(author).create_topic(
        "Has anyone measured infiltration after cover crops?",
        "We tried three mixes this autumn and would like to compare notes with others.",
        category_id=category_id(example, soil.name),
        external_id="automations-test-unanswered",
        created_at=opened,
    )
    poll_forum(example.store, example.settings)
    work(example)
    assert scan(example, example.now) >= 1
    work(example)
    event_id = f"schedule:unanswered:{created.topic_id}:48"
    lead_member = EXAMPLE.members_of(soil.lead_partner)[0].username
    message = rule_topic(example, "unanswered-nudge", event_id, lead_member)
    assert message.title == (
        "No reply yet after 48 hours: Has anyone measured infiltration after cover crops?"
    )
    assert f"/{created.topic_id})" in (message.posts[0].raw or "")  # links the topic
    # Sent to the lead group: its members see it, the author (another partner) does not.
    with pytest.raises((NotFound, PermissionDenied)):
        example.forum.acting_as(author).get_topic(message.id)
    assert scan(example, example.now + timedelta(minutes=5)) == 0  # once per topic


def test_a_stale_charter_reminds_its_last_editors(example: Example) -> None:
    retrofit = named("Flood Wardens Network")  # active, with recent posts
    human = example.wiki.human()
    page = human.read_pages([retrofit.name])[retrofit.name]
    human.edit(
        retrofit.name,
        page.text + "\nWe meet on the first Monday.\n",
        summary="meeting day",
        base=page,
    )
    forum_name = EXAMPLE.members_of(retrofit.lead_partner)[0].username
    with example.store.session() as session:
        people.link(session, (human.username, forum_name), "test")
    poll_wiki(example.store, example.settings)
    work(example)
    later = datetime.now(UTC) + timedelta(days=2)
    assert scan(example, later) >= 1
    work(example)
    with example.store.session() as session:
        ours = [
            r
            for r in session.scalars(
                select(AutomationRun).where(AutomationRun.rule == "stale-charter")
            )
            if r.subject == f"constellation:{page_id(example, retrofit.name)}"
        ]
        assert [r.state for r in ours] == ["done"], [r.error for r in ours]
        event_id = ours[0].event_id
    message = rule_topic(example, "stale-charter", event_id, forum_name)
    assert message.title.startswith(f"The charter of {retrofit.name} was last edited")
    outsider = EXAMPLE.members_of(other_than(retrofit.lead_partner))[0].username
    with pytest.raises((NotFound, PermissionDenied)):
        example.forum.acting_as(outsider).get_topic(message.id)


def test_a_first_post_gets_a_welcome_pointing_at_related_practices(example: Example) -> None:
    practice = EXAMPLE.practices[0]
    name = f"newbie{hashlib.sha256(practice.name.encode()).hexdigest()[:8]}"
    example.forum.create_user(name, email=f"{name}@example.org", name="Nova Newcomer")
    constellation = practice.related_constellations[0]
    created = example.forum.acting_as(name).create_topic(
        f"Starting with {practice.name.lower()}",
        f"Hello all. We would like to try {practice.name.lower()} in our town: {practice.summary}",
        category_id=category_id(example, constellation),
        external_id="automations-test-welcome",
    )
    poll_forum(example.store, example.settings)
    work(example)
    posts = example.forum.get_topic(created.topic_id).posts
    assert [p.username for p in posts] == [name, example.forum.username]
    welcome = posts[1].raw or ""
    assert welcome.startswith("Welcome, Nova Newcomer!")
    assert practice.name in welcome  # the related practice, linked
    # The welcome is our own post: its event is an echo, and nothing welcomes it again.
    poll_forum(example.store, example.settings)
    work(example)
    assert len(example.forum.get_topic(created.topic_id).posts) == 2


def other_than(group: str) -> str:
    return next(o.group for o in EXAMPLE.organisations if o.group != group)


def page_id(example: Example, title: str) -> int:
    with example.store.session() as session:
        link = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title == title)).one()
        return link.wiki_page_id


def category_id(example: Example, title: str) -> int:
    with example.store.session() as session:
        link = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title == title)).one()
        assert link.forum_category_id is not None
        return link.forum_category_id
