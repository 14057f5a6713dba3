"""Each trigger kind against real Event objects: forum events built by the webhook
normaliser from recorded Discourse bodies, the others as their emitters build them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.events import Event
from webhooks.automations import vocabulary
from webhooks.automations.rules_file import parse
from webhooks.automations.triggers import (
    ScheduledParameters,
    available_facts,
    kinds_of,
    matches,
    scheduled_parameters,
)
from webhooks.automations.vocabulary import Rule, RuleSet, Trigger
from webhooks.incoming.discourse_events import normalise

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parents[2] / "fixtures" / "discourse"


def forum_event(fixture: str) -> Event:
    """The Event the webhook endpoint makes of a recorded delivery."""
    data = json.loads((FIXTURES / f"{fixture}.json").read_text("utf-8"))
    name, body = data["headers"]["X-Discourse-Event"], data["body"]
    raw = json.dumps(body, separators=(",", ":")).encode()
    return normalise(name, body, raw, delivery_id="7", received=AT)


def event(kind: str, payload: dict[str, Any], source: str = "schedule") -> Event:
    return Event(
        event_id=f"test:{kind}:{len(payload)}",
        kind=kind,
        source=source,
        subject="constellation:7",
        actor=None,
        occurred_at=AT,
        delivery_id=None,
        payload=payload,
    )


def rule(trigger: str, name: str = "r") -> Rule:
    """A rule with this trigger (YAML flow text), through the real parser."""
    text = f"rules: [{{name: {name}, trigger: {trigger}, actions: [{{tag: {{tags: [x]}}}}]}}]"
    return parse(text, "test").rules[0]


def test_event_patterns_match_forum_kinds_with_wildcards() -> None:
    created, edited = forum_event("post__post_created"), forum_event("post__post_edited")
    assert created.kind == "forum.post_created"
    assert matches(rule("{event: forum.post_created}"), created)
    assert not matches(rule("{event: forum.post_created}"), edited)
    assert matches(rule('{event: "forum.post_*"}'), edited)
    assert matches(rule('{event: "forum.*"}'), forum_event("topic__topic_created"))
    assert matches(rule('{event: "*"}'), forum_event("like__post_liked"))
    assert matches(rule('{event: "forum.post_?dited"}'), edited)
    listed = rule("{event: [wiki.edit, forum.topic_created]}")
    assert matches(listed, forum_event("topic__topic_created"))
    assert not matches(listed, created)
    assert not matches(rule('{event: "wiki.*"}'), created)


def test_event_patterns_are_case_sensitive() -> None:
    trigger = Trigger("event", {"patterns": ["Forum.Post_Created"]})
    loose = Rule("r", trigger, {}, ())
    assert not matches(loose, forum_event("post__post_created"))


def test_schedule_fires_for_its_own_rule_only() -> None:
    tick = event(vocabulary.CRON, {"rule": "weekly", "slot": "2026-11-23T09:00:00+00:00"})
    assert matches(rule('{schedule: {cron: "0 9 * * MON"}}', "weekly"), tick)
    assert not matches(rule('{schedule: {cron: "0 9 * * MON"}}', "other"), tick)
    assert not matches(rule('{event: "forum.*"}', "weekly"), tick)


@pytest.mark.parametrize(
    ("trigger", "raised", "resolved"),
    [
        ("{alert: {}}", True, False),
        ("{alert: {state: raised}}", True, False),
        ("{alert: {state: resolved}}", False, True),
        ("{alert: {state: any}}", True, True),
        ("{alert: {state: any, rules: [unanswered_rate]}}", True, True),
        ("{alert: {state: any, rules: [quiet]}}", False, False),
    ],
)
def test_alert_state_and_rules(trigger: str, raised: bool, resolved: bool) -> None:
    payload = {"id": 3, "rule": "unanswered_rate", "scope": "constellation:7", "value": 0.5}
    assert matches(rule(trigger), event(vocabulary.ALERT_RAISED, payload, "health")) is raised
    assert matches(rule(trigger), event(vocabulary.ALERT_RESOLVED, payload, "health")) is resolved


def test_practice_adopted_filters_title_and_organisation_casefolded() -> None:
    adopted = event(
        vocabulary.PRACTICE_ADOPTED,
        {"page_id": 9, "title": "Sandbag Walls", "organisation": "River Trust"},
        "community",
    )
    assert matches(rule("{practice_adopted: {}}"), adopted)
    assert matches(rule("{practice_adopted: {practices: [sandbag walls]}}"), adopted)
    assert matches(rule("{practice_adopted: {organisations: [RIVER TRUST, Other]}}"), adopted)
    assert not matches(rule("{practice_adopted: {practices: [Rain Gauges]}}"), adopted)
    both = "{practice_adopted: {practices: [Sandbag Walls], organisations: [Other]}}"
    assert not matches(rule(both), adopted)
    assert not matches(rule("{practice_adopted: {}}"), forum_event("post__post_created"))


def test_status_change_filters_old_and_new_status() -> None:
    changed = event(
        vocabulary.STATUS_CHANGED,
        {"page_id": 7, "title": "Flood Wardens", "old_status": "forming", "new_status": "active"},
        "community",
    )
    assert matches(rule("{status_change: {}}"), changed)
    assert matches(rule("{status_change: {from: [forming], to: [active, dormant]}}"), changed)
    assert not matches(rule("{status_change: {to: [sunset]}}"), changed)
    assert not matches(rule("{status_change: {from: [dormant]}}"), changed)


def test_beat_fires_on_every_beat_start() -> None:
    started = event(vocabulary.BEAT_STARTED, {"page_id": 7, "beat_number": 3})
    assert matches(rule("{beat: {}}"), started)
    assert matches(rule("{beat: }"), started)  # no options at all reads the same
    assert not matches(rule("{beat: {}}"), event(vocabulary.CRON, {"rule": "r"}))


def test_unanswered_fires_for_its_own_hours() -> None:
    nudge = event(vocabulary.TOPIC_UNANSWERED, {"topic_id": 45, "hours": 48})
    assert matches(rule("{unanswered: {hours: 48}}"), nudge)
    assert not matches(rule("{unanswered: {hours: 24}}"), nudge)


def test_stale_charter_fires_for_its_own_days() -> None:
    stale = event(vocabulary.CHARTER_STALE, {"page_id": 7, "days": 60, "active_days": 14})
    assert matches(rule("{stale_charter: {days: 60, active_days: 14}}"), stale)
    assert not matches(rule("{stale_charter: {days: 60, active_days: 7}}"), stale)
    assert not matches(rule("{stale_charter: {days: 30, active_days: 14}}"), stale)


def test_kinds_of_each_trigger() -> None:
    assert kinds_of(rule('{event: "forum.post_*"}').trigger) == {
        "forum.post_created",
        "forum.post_edited",
        "forum.post_destroyed",
        "forum.post_recovered",
        "forum.post_liked",
    }
    unknown = Trigger("event", {"patterns": ["wiki.edit", "wiki.nothing"]})
    assert kinds_of(unknown) == {"wiki.edit"}
    assert vocabulary.PRACTICE_ADOPTED in kinds_of(rule('{event: "*"}').trigger)
    assert kinds_of(rule("{alert: {state: any}}").trigger) == {
        vocabulary.ALERT_RAISED,
        vocabulary.ALERT_RESOLVED,
    }
    assert kinds_of(rule("{beat: {}}").trigger) == {vocabulary.BEAT_STARTED}
    assert kinds_of(rule('{schedule: {cron: "* * * * *"}}').trigger) == {vocabulary.CRON}


def test_available_facts_follow_the_kinds() -> None:
    post = available_facts(rule("{event: forum.post_created}").trigger)
    assert {"rule", "author", "text", "related_practices", "constellation"} <= post
    assert "beat_number" not in post
    beat = available_facts(rule("{beat: {}}").trigger)
    assert {"rule", "beat_number", "open_questions", "lead_partner"} <= beat
    assert "author" not in beat
    schedule = available_facts(rule('{schedule: {cron: "0 9 * * *"}}').trigger)
    assert schedule == vocabulary.COMMON_FACTS | {"slot", "rule"}
    assert "page_title" in available_facts(rule("{event: [forum.post_created, wiki.edit]}").trigger)


def test_scheduled_parameters_collect_what_the_scheduler_runs() -> None:
    rules = RuleSet(
        (
            rule("{unanswered: {hours: 48}}", "a"),
            rule("{unanswered: {hours: 24}}", "b"),
            rule("{unanswered: {hours: 48}}", "c"),
            rule("{stale_charter: {days: 60, active_days: 14}}", "d"),
            rule("{stale_charter: {days: 60, active_days: 14}}", "e"),
            rule('{schedule: {cron: "0 9 * * MON"}}', "weekly"),
            rule("{event: wiki.edit}", "f"),
        ),
        "test",
    )
    assert scheduled_parameters(rules) == ScheduledParameters(
        unanswered_hours=(24, 48), stale=((60, 14),), schedules=(("weekly", "0 9 * * MON"),)
    )
