"""Health on the seeded example partnership, end to end: the real wiki, a forum sandbox
seeded with the example, the history read into the store, `constellate health report`,
and the deliberately starved constellation's alert raised on the forum and as a signed
webhook, then resolved through the worker when people post again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community.health.models import HealthAlert
from connectors.discourse import ForumClient
from core.config import Settings
from core.store import Store
from sandbox.example import EXAMPLE
from sandbox.example_conversations import PlannedTopic, plan_conversations
from service.main import main
from service.worker import Worker
from tests.conftest import SessionWiki, served_wiki
from tests.example_support import seeded_example
from tests.webhooks.outgoing_support import SECRET, Receiver, spec_signature
from webhooks.incoming.forum_poll import poll_forum
from webhooks.outgoing import subscriptions
from webhooks.outgoing.delivery import deliver_due

STARVED = "Cool Spaces"  # quiet_days=21 in the example data
BOT = EXAMPLE.bot_usernames()[0]


@dataclass
class Example:
    settings: Settings
    store: Store
    forum: ForumClient
    receiver: Receiver
    config_path: Path
    now: datetime
    plan: list[PlannedTopic]


@pytest.fixture(scope="module")
def example_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    """A wiki of its own: the example's pages must not exist before other tests seed them."""
    yield from served_wiki(tmp_path_factory.mktemp("example-wiki"))


@pytest.fixture(scope="module")
def example(
    example_wiki: SessionWiki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    wiki = example_wiki
    directory = tmp_path_factory.mktemp("health-example")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    receiver = Receiver()
    receiver.start()
    with seeded_example(
        wiki,
        directory,
        now,
        outgoing={"allow_private_networks": True},
        health={"moderators_category": "Staff", "message_lead_group": True},
    ) as seeded:
        with seeded.store.session() as session:
            subscriptions.add(session, receiver.url, ["health.alert.*"], SECRET)
        yield Example(
            seeded.settings,
            seeded.store,
            seeded.forum,
            receiver,
            seeded.config_path,
            now,
            plan_conversations(EXAMPLE, now),
        )
    receiver.stop()


def cli(example: Example, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(example.config_path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def expected(example: Example, constellation: str, days: int) -> dict[str, Any]:
    """The figures the seed plan implies, counted here from the plan itself: every planned
    reply is by a person other than the topic's author, and the bot's topics are left out."""
    start = example.now - timedelta(days=days)
    topics = [
        t
        for t in example.plan
        if t.constellation == constellation and t.author != BOT and start <= t.created_at
    ]
    posts = [(t.author, t.created_at) for t in example.plan if t.constellation == constellation]
    posts += [
        (r.author, r.created_at)
        for t in example.plan
        if t.constellation == constellation
        for r in t.replies
    ]
    in_window = [author for author, at in posts if author != BOT and start <= at]
    return {
        "topics": len(topics),
        "unanswered": sum(1 for t in topics if not t.replies),
        "posts": len(in_window),
        "participants": len(set(in_window)),
    }


def test_the_report_matches_the_seed_and_the_starved_constellation_is_raised(
    example: Example,
) -> None:
    assert "backfill complete" in cli(example, "backfill", "--forum")  # the forum's history
    cli(example, "health", "recompute", "--at", example.now.strftime("%Y-%m-%dT%H:%M:%S%z"))
    reports = {r["label"]: r for r in json.loads(cli(example, "health", "report", "--json"))}
    constellations = {
        r["label"] for r in reports.values() if r["scope"].startswith("constellation:")
    }
    assert constellations == {c.name for c in EXAMPLE.constellations}, sorted(reports)
    for constellation in EXAMPLE.constellations:
        for days in (7, 30, 90):
            values = reports[constellation.name]["windows"][str(days)]
            want = expected(example, constellation.name, days)
            got = {
                "topics": values["first_response"]["topics"],
                "unanswered": values["first_response"]["unanswered"],
                "posts": values["participation"]["posts"],
                "participants": values["participation"]["participants"],
            }
            assert got == want, (constellation.name, days)
    starved = reports[STARVED]["windows"]["90"]
    assert starved["pulse"]["beat_days"] == 14 and starved["pulse"]["last_beat"] == 0
    assert [a["rule"] for a in reports[STARVED]["open_alerts"]].count("quiet") == 1
    for name in ("Flood Wardens Network", "Soil and Water Farming", "Community Retrofit Circle"):
        assert "quiet" not in [a["rule"] for a in reports[name]["open_alerts"]]
    text = cli(example, "health", "report", "--constellation", STARVED)
    assert text.startswith(f"{STARVED} (constellation:") and "ALERT quiet:" in text

    with example.store.session() as session:
        alert = session.scalars(
            select(HealthAlert).where(HealthAlert.rule == "quiet", HealthAlert.label == STARVED)
        ).one()
        topic_id, message_id = alert.forum_topic_id, alert.group_message_topic_id
    # On the forum: a topic in the moderators' category, a message to the lead group.
    assert topic_id is not None and message_id is not None
    staff = next(c for c in example.forum.categories() if c.name == "Staff")
    topic = example.forum.get_topic(topic_id)
    assert topic.category_id == staff.id and STARVED in topic.title
    lead_member = next(p.username for p in EXAMPLE.members_of("lowmoor-libraries"))
    message = example.forum.acting_as(lead_member).get_topic(message_id)
    assert STARVED in message.title

    # As a signed outgoing webhook, once a worker took the alert from the inbox.
    worker = Worker(example.store, example.settings)
    while worker.run_once():
        pass
    deliver_due(example.store, example.settings)
    raised = [
        r for r in example.receiver.received if json.loads(r.body)["type"] == "health.alert.raised"
    ]
    quiet = [r for r in raised if json.loads(r.body)["data"]["payload"]["rule"] == "quiet"]
    assert len(quiet) == 1
    headers = quiet[0].headers
    assert headers["webhook-signature"] == spec_signature(
        SECRET, headers["webhook-id"], headers["webhook-timestamp"], quiet[0].body
    )


def test_activity_returning_resolves_the_alert(example: Example) -> None:
    poll_forum(example.store, example.settings)  # the poll's cursor starts from now
    category = next(c for c in example.forum.categories() if c.name == STARVED)
    theo = example.forum.acting_as("theo_marchetti")
    started = theo.create_topic(
        "Cool Spaces are open again this week",
        "We are back: the reading room stays open late on Tuesday and Thursday.",
        category_id=category.id,
        external_id="health-test-cool-spaces-back",
    )
    example.forum.acting_as("elif_arslan").reply(
        started.topic_id, "Good news. I will bring the fans on Thursday."
    )
    poll_forum(example.store, example.settings)  # the two posts become inbox events
    worker = Worker(example.store, example.settings)
    while worker.run_once():
        pass
    with example.store.session() as session:
        alert = session.scalars(
            select(HealthAlert).where(HealthAlert.rule == "quiet", HealthAlert.label == STARVED)
        ).one()
        assert alert.state == "resolved" and alert.resolution_posted
        topic_id = alert.forum_topic_id
    assert topic_id is not None
    posts = example.forum.get_topic(topic_id).data["post_stream"]["posts"]
    assert "Resolved" in posts[-1]["cooked"]
    deliver_due(example.store, example.settings)
    resolved = [
        json.loads(r.body)
        for r in example.receiver.received
        if json.loads(r.body)["type"] == "health.alert.resolved"
    ]
    assert [r["data"]["payload"]["label"] for r in resolved] == [STARVED]
