"""Which events a rule's trigger fires on, and what that tells ``rules check`` and the
scheduler: the kinds a trigger can see, the facts those offer, the scans to run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from core import event_kinds
from core.events import Event
from webhooks.automations import vocabulary
from webhooks.automations.vocabulary import Rule, RuleSet, Trigger

ALERT_KINDS = {
    "raised": frozenset({event_kinds.ALERT_RAISED}),
    "resolved": frozenset({event_kinds.ALERT_RESOLVED}),
    "any": frozenset({event_kinds.ALERT_RAISED, event_kinds.ALERT_RESOLVED}),
}
# Triggers that fire on exactly one kind of event (the scheduler or an emitter makes it).
SINGLE_KIND = {
    "schedule": event_kinds.CRON,
    "practice_adopted": event_kinds.PRACTICE_ADOPTED,
    "status_change": event_kinds.STATUS_CHANGED,
    "beat": event_kinds.BEAT_STARTED,
    "unanswered": event_kinds.TOPIC_UNANSWERED,
    "stale_charter": event_kinds.CHARTER_STALE,
}


@cache
def known_kinds() -> frozenset[str]:
    """Every event kind Constellate produces: what an ``event`` pattern can match."""
    return event_kinds.for_rules()


def pattern_kinds(pattern: str) -> frozenset[str]:
    """The known kinds an event pattern (``*`` and ``?`` wildcards) matches."""
    return frozenset(kind for kind in known_kinds() if fnmatchcase(kind, pattern))


def kinds_of(trigger: Trigger) -> frozenset[str]:
    """The known kinds a trigger can fire on."""
    if trigger.kind == "event":
        return frozenset().union(*(pattern_kinds(p) for p in trigger.options["patterns"]))
    if trigger.kind == "alert":
        return ALERT_KINDS[trigger.options.get("state", "raised")]
    return frozenset({SINGLE_KIND[trigger.kind]})


def available_facts(trigger: Trigger) -> frozenset[str]:
    """The facts some event of this trigger can offer (``rule`` is added to each run)."""
    facts = frozenset({"rule"})
    return facts.union(*(vocabulary.facts_for_kind(kind) for kind in kinds_of(trigger)))


def matches(rule: Rule, event: Event) -> bool:
    """Whether ``rule``'s trigger fires on ``event`` (its conditions are checked apart)."""
    trigger, payload = rule.trigger, event.payload
    options = trigger.options
    if trigger.kind == "event":
        return any(fnmatchcase(event.kind, pattern) for pattern in options["patterns"])
    if trigger.kind == "alert":
        wanted = options.get("rules") or []
        state = options.get("state", "raised")
        return event.kind in ALERT_KINDS[state] and (not wanted or payload.get("rule") in wanted)
    if event.kind != SINGLE_KIND[trigger.kind]:
        return False
    if trigger.kind == "schedule":
        return bool(payload.get("rule") == rule.name)
    if trigger.kind == "practice_adopted":
        return _allowed(options.get("practices"), payload.get("title")) and _allowed(
            options.get("organisations"), payload.get("organisation")
        )
    if trigger.kind == "status_change":
        return _allowed(options.get("from"), payload.get("old_status")) and _allowed(
            options.get("to"), payload.get("new_status")
        )
    if trigger.kind == "unanswered":
        return bool(payload.get("hours") == options["hours"])
    if trigger.kind == "stale_charter":
        return bool(
            payload.get("days") == options["days"]
            and payload.get("active_days") == options["active_days"]
        )
    return True  # beat: every beat start


def _allowed(wanted: Iterable[str] | None, value: Any) -> bool:
    """An empty filter lets everything through; otherwise the value, casefolded."""
    names = {name.casefold() for name in wanted or ()}
    return not names or (isinstance(value, str) and value.casefold() in names)


@dataclass(frozen=True)
class ScheduledParameters:
    """What the scheduler must look for on behalf of the rules."""

    unanswered_hours: tuple[int, ...]  # distinct `unanswered` hours, ascending
    stale: tuple[tuple[int, int], ...]  # distinct (days, active_days) of `stale_charter`
    schedules: tuple[tuple[str, str], ...]  # (rule name, cron expression)


def scheduled_parameters(rules: RuleSet) -> ScheduledParameters:
    """The scans and cron slots the scheduler runs for these rules."""
    hours: set[int] = set()
    stale: set[tuple[int, int]] = set()
    schedules: list[tuple[str, str]] = []
    for rule in rules.rules:
        options: Mapping[str, Any] = rule.trigger.options
        if rule.trigger.kind == "unanswered":
            hours.add(int(options["hours"]))
        elif rule.trigger.kind == "stale_charter":
            stale.add((int(options["days"]), int(options["active_days"])))
        elif rule.trigger.kind == "schedule":
            schedules.append((rule.name, str(options["cron"])))
    return ScheduledParameters(tuple(sorted(hours)), tuple(sorted(stale)), tuple(schedules))
