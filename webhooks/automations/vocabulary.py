"""The automation rules' vocabulary: rules as loaded, the facts an event offers, and
what an action plans and does.

A rule is a trigger (which events), conditions (which of those) and actions (what to
do). Everything a condition tests and a template names is a *fact*: a value gathered
for one event (``facts.gather``). Which facts a trigger can offer is fixed here, so
``rules check`` reports a placeholder no event of the trigger could fill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core import event_kinds
from core.config import Settings
from core.errors import ConstellateError
from core.event_kinds import (
    ALERT_RAISED,
    ALERT_RESOLVED,
    BEAT_STARTED,
    CHARTER_STALE,
    CRON,
    PRACTICE_ADOPTED,
    STATUS_CHANGED,
    TOPIC_UNANSWERED,
)

# -- rules --------------------------------------------------------------------------------

TRIGGERS = (
    "event",  # options: {"patterns": [kind patterns with * and ?]}
    "schedule",  # options: {"cron": "0 9 * * MON"}
    "alert",  # options: {"state": "raised"|"resolved"|"any", "rules": [alert rule names]}
    "practice_adopted",  # options: {"practices": [titles], "organisations": [names]}
    "status_change",  # options: {"from": [statuses], "to": [statuses]}
    "beat",  # options: {}
    "unanswered",  # options: {"hours": N}
    "stale_charter",  # options: {"days": N, "active_days": M}
)
ACTIONS = (
    "tag",
    "untag",
    "reply",
    "create_topic",
    "message",
    "wiki_section",
    "badge",
    "credit",
    "practice_stub",
    "webhook",
)


@dataclass(frozen=True)
class Trigger:
    kind: str  # one of TRIGGERS
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionSpec:
    kind: str  # one of ACTIONS
    options: Mapping[str, Any] = field(default_factory=dict)  # as written, templates unrendered


@dataclass(frozen=True)
class Rule:
    name: str
    trigger: Trigger
    conditions: Mapping[str, Any]
    actions: tuple[ActionSpec, ...]
    description: str = ""
    builtin: bool = False


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    source: str  # where the rules came from, for messages
    time_zone: str = "UTC"

    def named(self, name: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.name == name), None)


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rules file: which rule, where in it, what."""

    rule: str  # the rule's name, or "#<index>" when it has none, or "" for the file
    path: str  # a JSON-pointer-like path inside the file: "/rules/2/actions/0/reply/text"
    message: str

    def __str__(self) -> str:
        where = f"rule {self.rule}" if self.rule else "file"
        return f"{where}: {self.path or '/'}: {self.message}"


class RulesInvalid(ConstellateError):
    """A rules file that cannot be used; ``problems`` lists every error found."""

    def __init__(self, source: str, problems: list[RuleProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} error(s) in the rules\n{lines}")


# -- facts --------------------------------------------------------------------------------

COMMON_FACTS = frozenset(
    {"event_kind", "event_id", "subject", "actor", "occurred_at", "rule", "service_url"}
)
TOPIC_FACTS = frozenset({"topic_id", "topic_title", "topic_url", "category_id", "category", "tags"})
POST_FACTS = frozenset(
    {
        "post_id",
        "post_number",
        "post_url",
        "author",  # the post's username
        "author_name",
        "text",  # the post's raw text (a topic event: its title)
        "trust_level",
        "groups",  # the author's forum groups
        "organisation",  # the author's organisation (full name), when known
        "is_private",  # a private message (rules see those only when they ask to)
        "is_original_post",  # the post opens its topic
        "is_first_post",  # the author's first post on the forum
        "is_newcomer",  # the author's first post is at most automations.newcomer_days old
        "idle_hours",  # hours since the topic's previous post (None: none before)
        "related_practices",  # a Markdown list of the practices most related to the text
    }
)
CONSTELLATION_FACTS = frozenset(
    {
        "constellation",  # the constellation's page title
        "page_title",
        "page_url",
        "lead_partner",
        "lead_group",  # the lead partner's forum group
        "partners",
        "stewards",
        "status",
        "beat",
        "constellation_category_id",
    }
)
WIKI_FACTS = frozenset(
    {"page_title", "page_url", "author", "revid", "comment", "text", "idle_hours", "organisation"}
)
ALERT_FACTS = frozenset(
    {
        "alert_id",
        "alert_rule",
        "alert_title",
        "alert_message",
        "alert_state",
        "metric",
        "value",
        "threshold",
        "scope",
        "scope_label",
    }
)
PRACTICE_FACTS = frozenset(
    {"practice", "practice_url", "practice_tag", "organisation", "originating_organisation"}
)
STATUS_FACTS = frozenset({"old_status", "new_status"})
BEAT_FACTS = frozenset(
    {"beat_number", "beat_start", "beat_end", "last_beat_summary", "open_questions"}
)
UNANSWERED_FACTS = frozenset({"hours_unanswered", "author", "author_name", "text"})
STALE_FACTS = frozenset({"days_untouched", "last_editors", "last_edited"})
# Facts Constellate writes as Markdown itself (people's words inside already escaped):
# templates insert them as they are, as they do every ``*_url`` fact.
TRUSTED_FACTS = frozenset({"related_practices", "last_beat_summary", "open_questions"})


LIKES = (event_kinds.FORUM_POST_LIKED,)


def facts_for_kind(kind: str) -> frozenset[str]:
    """The facts an event of ``kind`` can offer (constellation facts when it belongs to
    one: a forum category or wiki page that is not a constellation's has none)."""
    if kind.startswith("forum.post_"):  # forum.post_liked included
        return COMMON_FACTS | TOPIC_FACTS | POST_FACTS | CONSTELLATION_FACTS
    if kind.startswith("forum.topic_") or kind in (
        event_kinds.FORUM_SOLUTION_ACCEPTED,
        event_kinds.FORUM_SOLUTION_UNACCEPTED,
    ):
        return COMMON_FACTS | TOPIC_FACTS | POST_FACTS | CONSTELLATION_FACTS
    if kind.startswith("wiki."):
        return COMMON_FACTS | WIKI_FACTS | CONSTELLATION_FACTS
    if kind in (ALERT_RAISED, ALERT_RESOLVED):
        return COMMON_FACTS | ALERT_FACTS | CONSTELLATION_FACTS
    if kind == PRACTICE_ADOPTED:
        return COMMON_FACTS | PRACTICE_FACTS
    if kind == STATUS_CHANGED:
        return COMMON_FACTS | STATUS_FACTS | CONSTELLATION_FACTS
    if kind == BEAT_STARTED:
        return COMMON_FACTS | BEAT_FACTS | CONSTELLATION_FACTS
    if kind == TOPIC_UNANSWERED:
        return COMMON_FACTS | TOPIC_FACTS | UNANSWERED_FACTS | CONSTELLATION_FACTS
    if kind == CHARTER_STALE:
        return COMMON_FACTS | STALE_FACTS | CONSTELLATION_FACTS
    if kind == CRON:
        return COMMON_FACTS | frozenset({"slot"})
    return COMMON_FACTS


class Facts(Mapping[str, Any]):
    """What is known about one event. A value may be given as a function, computed on
    first use (a forum lookup only when a condition or template needs it); a function
    that returns None leaves the fact unknown."""

    def __init__(
        self,
        values: Mapping[str, Any],
        lazy: Mapping[str, Callable[[], Any]] | None = None,
        *,
        parent: Facts | None = None,
    ) -> None:
        self._values = {key: value for key, value in values.items() if value is not None}
        self._lazy = dict(lazy or {})
        self._parent = parent

    def adding(self, **values: Any) -> Facts:
        """These facts and ``values`` (one rule's view: the lazy lookups stay shared)."""
        return Facts(values, parent=self)

    def __getitem__(self, key: str) -> Any:
        if key not in self._values and key in self._lazy:
            value = self._lazy.pop(key)()
            if value is not None:
                self._values[key] = value
        if key not in self._values and self._parent is not None:
            return self._parent[key]
        return self._values[key]

    def _keys(self) -> list[str]:
        keys = dict.fromkeys([*self._values, *self._lazy])
        if self._parent is not None:
            keys.update(dict.fromkeys(self._parent._keys()))
        return list(keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def known(self) -> dict[str, Any]:
        """Every fact that has a value (computes the lazy ones)."""
        return {key: self[key] for key in list(self) if key in self}


# -- actions ------------------------------------------------------------------------------


class ActionError(ConstellateError):
    """An action that cannot be planned or done (a missing placeholder, a category that
    does not exist, a refused request): recorded on the run, other rules go on."""


@dataclass(frozen=True)
class Planned:
    """An action with its templates rendered and its targets resolved: what a dry run
    prints, and what ``perform`` does."""

    kind: str
    description: str  # one line: "reply in topic 45 “Title”: Welcome, …"
    params: Mapping[str, Any]  # what perform needs (rendered text, ids, names)


@dataclass(frozen=True)
class Outcome:
    description: str  # what was done: "replied in topic 45 (post 678)"
    # Platform objects the action made or changed ("post:678", "topic:45", "page:Title"):
    # events about them are this rule's own doing (loop prevention).
    objects: tuple[str, ...] = ()


@dataclass
class ActionEnv:
    """What ``perform`` acts through. ``key`` is unique per (rule, event, action index)
    and stable across retries (external ids, ledger keys); ``retry`` says an earlier
    attempt of this run may already have done part of it."""

    session: Session
    settings: Settings
    forum: Callable[[], ForumClient]
    wiki: Callable[[], WikiClient]
    rule: str
    event_id: str
    key: str
    now: datetime
    retry: bool = False
