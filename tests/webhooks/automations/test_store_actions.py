"""The actions that only write the store (SQLite and PostgreSQL): a credit ledger entry
and an outgoing webhook, each once per action key however often performed."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from community.credits.models import CreditEntry
from core.config import DEFAULTS, Settings
from core.store import Store
from tests.webhooks.outgoing_support import SECRET
from webhooks.automations.actions import perform, plan
from webhooks.automations.vocabulary import ActionEnv, ActionError, ActionSpec, Facts, Outcome
from webhooks.outgoing import subscriptions
from webhooks.outgoing.models import OutgoingMessage

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
FACTS = {
    "event_kind": "forum.post_created",
    "subject": "post:12",
    "author": "ana",
    "topic_title": "Sandbags <b>& more</b>",
    "rule": "test-rule",
}


def settings() -> Settings:
    return copy.deepcopy(DEFAULTS)


def act(
    store: Store, kind: str, options: dict[str, Any], key: str, *, retry: bool = False, **facts: Any
) -> Outcome:
    planned = plan(ActionSpec(kind, options), Facts({**FACTS, **facts}), settings())

    def no_platform() -> Any:
        raise AssertionError("a store action called a platform")

    with store.session() as session:
        env = ActionEnv(
            session=session,
            settings=settings(),
            forum=no_platform,
            wiki=no_platform,
            rule="test-rule",
            event_id="forum:post_created:post:12",
            key=key,
            now=NOW,
            retry=retry,
        )
        return perform(planned, env)


def entries(store: Store) -> list[CreditEntry]:
    with store.session() as session:
        return list(session.scalars(select(CreditEntry).order_by(CreditEntry.id)))


def test_a_credit_entry_is_written_once_per_key(store: Store) -> None:
    options = {"to": "{{author}}", "weight": 2, "kind": "welcomed"}
    outcome = act(store, "credit", options, "test-rule|event|0")
    (entry,) = entries(store)
    assert (entry.platform, entry.account, entry.kind, entry.object) == (
        "forum",
        "ana",
        "welcomed",
        "post:12",
    )
    assert (entry.weight, entry.rule, entry.occurred_at) == (2.0, "automation:test-rule", NOW)
    assert outcome.objects == () and outcome.description.startswith("credited forum account ana")

    again = act(store, "credit", options, "test-rule|event|0", retry=True)
    assert len(entries(store)) == 1 and again.description.startswith("already credited")
    act(store, "credit", options, "test-rule|other-event|0")
    assert len(entries(store)) == 2

    act(store, "credit", {"to": "{{author}}", "platform": "wiki", "weight": 1}, "k", author="Ana L")
    wiki_entry = entries(store)[-1]
    assert (wiki_entry.platform, wiki_entry.account, wiki_entry.kind) == (
        "wiki",
        "Ana L",
        "automation",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"to": "{{author}}", "weight": 0}, "not a number above 0"),
        ({"to": "{{author}}", "weight": "lots"}, "not a number above 0"),
        ({"to": "{{author}}", "weight": 1, "kind": "Bad Kind"}, "lowercase letters"),
        ({"to": "{{author}}", "weight": 1, "platform": "mail"}, "not one of forum, wiki"),
        ({"to": "a b", "weight": 1}, "not a forum name"),
        ({"to": "{{nobody}}", "weight": 1}, "missing placeholder"),
    ],
)
def test_a_credit_that_cannot_be_planned(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ActionError, match=message):
        plan(ActionSpec("credit", options), Facts(FACTS), settings())


def test_a_webhook_is_queued_once_for_the_subscriptions_that_want_it(store: Store) -> None:
    with store.session() as session:
        wanted = subscriptions.add(session, "https://hooks.example.org/a", ["automation.*"], SECRET)
        subscriptions.add(session, "https://hooks.example.org/b", ["forum.*"], SECRET)
        wanted_id = wanted.id
    options = {
        "type": "automation.newcomer",
        "data": {"who": "{{author}}", "count": 3, "titles": ["{{topic_title}}"]},
    }
    outcome = act(store, "webhook", options, "test-rule|event|1")
    with store.session() as session:
        (message,) = session.scalars(select(OutgoingMessage)).all()
    assert (message.subscription_id, message.event_kind) == (wanted_id, "automation.newcomer")
    assert message.event_id.startswith("automation:")
    body = json.loads(message.body)
    assert body["type"] == "automation.newcomer"
    assert body["data"]["subject"] == "post:12"
    assert body["data"]["payload"] == {
        "who": "ana",
        "count": 3,
        "titles": ["Sandbags <b>& more</b>"],  # JSON data: people's words as written
    }
    assert "1 subscription" in outcome.description

    again = act(store, "webhook", options, "test-rule|event|1", retry=True)
    assert "0 subscription" in again.description
    act(store, "webhook", options, "test-rule|next-event|1")
    with store.session() as session:
        assert len(session.scalars(select(OutgoingMessage)).all()) == 2


def test_a_webhook_type_must_be_an_automation_type() -> None:
    with pytest.raises(ActionError, match=r"must start with automation\."):
        plan(
            ActionSpec("webhook", {"type": "forum.post_created", "data": {}}),
            Facts(FACTS),
            settings(),
        )
    with pytest.raises(ActionError, match="missing placeholder"):
        plan(
            ActionSpec("webhook", {"type": "automation.x", "data": {"a": "{{nobody}}"}}),
            Facts(FACTS),
            settings(),
        )
