"""The engine through the real pipeline (forum sandbox -> poll -> inbox -> worker): a
failing rule is recorded and the others still run; a rule that retriggers itself stops at
the depth limit; a platform outage retries only the unfinished rules; planning errors act
on nothing; and every trigger kind reaches its rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from community.credits.models import CreditEntry
from community.handling import HandlerContext
from connectors.discourse import ForumClient
from core.config import Settings
from core.errors import Unavailable
from core.events import Event
from core.migrate import upgrade
from core.models import InboxEvent
from core.store import Store
from service.worker import Worker
from tests.conftest import SessionForum
from tests.webhooks.automations.test_facts import make_settings
from webhooks.automations import engine
from webhooks.automations.models import AutomationRun
from webhooks.incoming.forum_poll import poll_forum
from webhooks.outgoing import subscriptions
from webhooks.outgoing.models import OutgoingMessage


@dataclass
class Rig:
    settings: Settings
    store: Store
    admin: ForumClient
    category_id: int
    alice: str
    bob: str

    def post_topic(self, title: str, raw: str) -> int:
        created = self.admin.acting_as(self.alice).create_topic(
            title, raw, category_id=self.category_id, external_id=f"engine-{uuid.uuid4().hex[:20]}"
        )
        return created.topic_id

    def pump(self, rounds: int = 6) -> None:
        """Poll the forum and let the real worker empty the inbox, a few times over (what
        the service does continuously)."""
        worker = Worker(self.store, self.settings)
        for _ in range(rounds):
            poll_forum(self.store, self.settings)
            while worker.run_once():
                pass

    def runs(self, rule: str) -> list[AutomationRun]:
        with self.store.session() as session:
            query = select(AutomationRun).where(AutomationRun.rule == rule)
            return list(session.scalars(query.order_by(AutomationRun.id)))


def rules_file(path: Path, rules: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"rules": rules}))
    return str(path)


@pytest.fixture
def rig(forum: SessionForum, tmp_path: Path) -> Iterator[Rig]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    admin = ForumClient(make_settings(forum)["forum"])
    category = admin.create_category(forum.name("engine"))
    alice, bob = forum.name("alice"), forum.name("bob")
    for name in (alice, bob):
        admin.create_user(name, name.title(), f"{name}@example.org")
    store = Store(url)
    settings = make_settings(forum, store={"url": url})
    made = Rig(settings, store, admin, category.id, alice, bob)
    poll_forum(store, settings)  # the cursor starts here: only this test's posts are events
    yield made
    store.dispose()


def with_rules(rig: Rig, tmp_path: Path, rules: list[dict[str, Any]], **automations: Any) -> None:
    path = rules_file(tmp_path / "rules.json", rules)
    rig.settings["automations"].update({"rules_file": path, "builtins": [], **automations})


def in_category(rig: Rig) -> dict[str, Any]:
    return {"category": [rig.category_id]}


def test_a_failing_rule_is_recorded_and_the_others_still_run(rig: Rig, tmp_path: Path) -> None:
    with_rules(
        rig,
        tmp_path,
        [
            {
                "name": "broken",
                "trigger": {"event": "forum.post_created"},
                "conditions": in_category(rig),
                "actions": [
                    {"reply": {"text": "Into the void, where no topic is", "topic": "99999999"}}
                ],
            },
            {
                "name": "tagger",
                "trigger": {"event": "forum.post_created"},
                "conditions": in_category(rig),
                "actions": [{"tag": {"tags": ["triaged"]}}],
            },
        ],
    )
    topic_id = rig.post_topic("Where do we keep the sandbags?", "Asking for the spring drill.")
    rig.pump(rounds=1)
    [broken] = rig.runs("broken")
    assert broken.state == "failed" and "reply" in (broken.error or "")
    assert broken.actions[0]["result"] == "failed"
    [tagger] = rig.runs("tagger")
    assert tagger.state == "done"
    assert rig.admin.get_topic(topic_id).tags == ("triaged",)
    with rig.store.session() as session:  # the event itself is done, not retried
        row = session.scalars(
            select(InboxEvent).where(InboxEvent.event_id == broken.event_id)
        ).one()
        assert row.state == "done"


def test_a_self_retriggering_rule_stops_at_the_depth_limit(rig: Rig, tmp_path: Path) -> None:
    # Replying as another person is not our own echo: each reply is a new post event.
    with_rules(
        rig,
        tmp_path,
        [
            {
                "name": "echo-chamber",
                "trigger": {"event": "forum.post_created"},
                "conditions": in_category(rig),
                "actions": [{"reply": {"text": "Me too, {{author_name}}!", "as": rig.bob}}],
            }
        ],
        max_depth=2,
    )
    topic_id = rig.post_topic("Shall we meet on Thursday?", "The hall is free from six.")
    rig.pump()
    posts = rig.admin.get_topic(topic_id).posts
    assert [p.username for p in posts] == [rig.alice, rig.bob, rig.bob]
    assert [r.state for r in rig.runs("echo-chamber")] == ["done", "done", "stopped"]
    assert [r.depth for r in rig.runs("echo-chamber")] == [0, 1, 2]
    assert "automations.max_depth is 2" in (rig.runs("echo-chamber")[-1].error or "")


def test_an_outage_retries_only_the_unfinished_rules(rig: Rig, tmp_path: Path) -> None:
    with_rules(
        rig,
        tmp_path,
        [
            {
                "name": "answer",
                "trigger": {"event": "forum.post_created"},
                "actions": [{"reply": {"text": "Noted, thank you for telling us."}}],
            },
            {
                "name": "thank",
                "trigger": {"event": "forum.post_created"},
                "actions": [{"credit": {"to": "{{author}}", "weight": 2}}],
            },
        ],
    )
    topic_id = rig.post_topic("The pump is back", "It runs again after the repair.")
    post = rig.admin.get_topic(topic_id).posts[0]
    event = post_event(post.data, topic_id)
    down = {**rig.settings, "forum": {**rig.settings["forum"], "url": "http://127.0.0.1:9"}}
    with rig.store.session() as session, pytest.raises(Unavailable):
        engine.run_rules(event, HandlerContext(session, down))
    assert [r.state for r in rig.runs("answer")] == ["failed"]
    assert [r.state for r in rig.runs("thank")] == ["done"]
    with rig.store.session() as session:  # the forum is back: the retry
        engine.run_rules(event, HandlerContext(session, rig.settings))
    [answer], [thank] = rig.runs("answer"), rig.runs("thank")
    assert (answer.state, answer.attempts) == ("done", 2)
    assert thank.attempts == 1  # finished before: not run again
    assert [p.raw for p in rig.admin.get_topic(topic_id).posts][1:] == [
        "Noted, thank you for telling us."
    ]
    with rig.store.session() as session:
        entries = session.scalars(select(CreditEntry).where(CreditEntry.account == rig.alice))
        assert [e.weight for e in entries] == [2.0]


def test_a_missing_placeholder_fails_the_rule_before_it_acts(rig: Rig, tmp_path: Path) -> None:
    with_rules(
        rig,
        tmp_path,
        [
            {
                "name": "half",
                "trigger": {"event": "forum.post_created"},
                "conditions": in_category(rig),
                "actions": [
                    {"tag": {"tags": ["first-half"]}},
                    {"reply": {"text": "Leads: {{lead_group}}"}},  # no constellation here
                ],
            }
        ],
    )
    topic_id = rig.post_topic(
        "A question outside any constellation", "Who knows the answer to this one?"
    )
    rig.pump(rounds=1)
    [run] = rig.runs("half")
    assert run.state == "failed" and "missing placeholder(s): lead_group" in (run.error or "")
    assert rig.admin.get_topic(topic_id).tags == ()  # the first action was not done either


def community_event(kind: str, payload: dict[str, Any], subject: str = "x:1") -> Event:
    return Event(
        event_id=f"test:{kind}:{uuid.uuid4().hex[:8]}",
        kind=kind,
        source="community" if kind.startswith("community") else kind.split(".")[0],
        subject=subject,
        actor=None,
        occurred_at=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
        delivery_id=None,
        payload=payload,
    )


@pytest.mark.parametrize(
    ("trigger", "event"),
    [
        (
            {"alert": {"state": "raised", "rules": ["quiet"]}},
            community_event(
                "health.alert.raised",
                {
                    "id": 7,
                    "rule": "quiet",
                    "scope": "c:1",
                    "label": "Cool Spaces",
                    "metric": "m",
                    "window_days": 30,
                    "value": 0.0,
                    "threshold": 1.0,
                    "title": "Quiet",
                    "message": "Quiet in Cool Spaces",
                    "raised_at": "2026-11-21T09:00:00+00:00",
                    "resolved_at": None,
                },
            ),
        ),
        (
            {"practice_adopted": {"organisations": ["Alder Valley Council"]}},
            community_event(
                "community.practice_adopted",
                {
                    "page_id": 3,
                    "title": "Rain gauges",
                    "tag": "rain-gauges",
                    "organisation": "Alder Valley Council",
                    "originating_organisation": "Riverlands Water Trust",
                    "author": "Ana",
                    "author_platform": "wiki",
                    "source": "template",
                    "revid": 9,
                },
            ),
        ),
        (
            {"status_change": {"to": ["dormant"]}},
            community_event(
                "community.constellation_status_changed",
                {
                    "page_id": 4,
                    "title": "Cool Spaces",
                    "old_status": "active",
                    "new_status": "dormant",
                    "revid": 12,
                },
            ),
        ),
        (
            {"schedule": {"cron": "0 9 * * MON"}},
            community_event(
                "schedule.cron",
                {
                    "rule": "r",
                    "slot": "2026-11-23T09:00:00+00:00",
                    "facts": {"slot": "2026-11-23T09:00:00+00:00"},
                },
            ),
        ),
    ],
    ids=["alert", "practice_adopted", "status_change", "schedule"],
)
def test_each_trigger_kind_reaches_its_rule(
    rig: Rig, tmp_path: Path, trigger: dict[str, Any], event: Event
) -> None:
    with_rules(
        rig,
        tmp_path,
        [
            {
                "name": "r",
                "trigger": trigger,
                "actions": [
                    {"webhook": {"type": "automation.seen", "data": {"kind": "{{event_kind}}"}}}
                ],
            }
        ],
    )
    with rig.store.session() as session:
        subscriptions.add(
            session, "https://receiver.example.org/hook", ["automation.*"], "whsec_" + "A" * 32
        )
    with rig.store.session() as session:
        [run] = engine.run_rules(event, HandlerContext(session, rig.settings))
        assert run.state == "done"
        [message] = session.scalars(select(OutgoingMessage)).all()
        assert json.loads(message.body)["data"]["payload"] == {"kind": event.kind}
    other = community_event("forum.user_created", {})
    with rig.store.session() as session:
        assert engine.run_rules(other, HandlerContext(session, rig.settings)) == []


def post_event(post: dict[str, Any], topic_id: int) -> Event:
    body = {"post": {**post, "topic_id": topic_id}}
    return Event(
        event_id=f"forum:post_created:post:{post['id']}",
        kind="forum.post_created",
        source="forum",
        subject=f"post:{post['id']}",
        actor=str(post["username"]),
        occurred_at=datetime.now(UTC),
        delivery_id=None,
        payload=body,
    )
