"""Alert thresholds: which health figure raises an alert, and when the alert clears.

Read from ``health.alerts_file`` or the built-in ``default_alerts.json`` and checked
against ``schemas/health_alerts.schema.json`` plus the checks a schema cannot make (known
figures, configured windows, thresholds on the right side of each other). ``decide`` is
the hysteresis itself, pure so it is tested without a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from types import MappingProxyType
from typing import Any, Literal

import schemas
from community.health.scope import ScopeHealth
from core.config import Settings
from core.errors import ConfigError

DEFAULT_ALERTS = "default_alerts.json"

# The figures a rule may watch (docs/metrics.md): path -> (plain words, unit). The words
# go into the alert's message, so they read well after "the" is dropped or kept.
FIGURES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "first_response.km_median_hours": (
            "the median wait for a first reply (topics still waiting counted)",
            "hours",
        ),
        "first_response.km_p90_hours": (
            "the wait for a first reply of 9 topics in 10 (topics still waiting counted)",
            "hours",
        ),
        "first_response.median_hours": ("the median wait of the answered topics", "hours"),
        "first_response.p90_hours": ("the wait of 9 answered topics in 10", "hours"),
        "first_response.unanswered": ("the number of topics with no reply yet", "count"),
        "unanswered.rate": ("the share of topics left unanswered", "share"),
        "two_way.ratio": ("the share of answered topics whose author wrote again", "share"),
        "announcements.rate": (
            "the share of the stewards' and leads' topics answered from the edge in time",
            "share",
        ),
        "edge_replies.ratio": (
            "the share of replies to stewards and leads that came from others",
            "share",
        ),
        "participation.participants": ("the number of people posting", "count"),
        "participation.gini": ("the inequality of posts (Gini)", "number"),
        "concentration.absence_factor": ("the number of people writing half the posts", "count"),
        "concentration.elephant_factor": (
            "the number of organisations writing half the posts",
            "count",
        ),
        "cross_organisation.rate": ("the share of replies across organisations", "share"),
        "newcomers.answered_rate": ("the share of newcomers who got a reply", "share"),
        "newcomers.return_rate": ("the share of newcomers who posted again", "share"),
        "pulse.cv": ("the unevenness of activity per beat", "number"),
        "pulse.missed": ("the number of missed beats", "count"),
        "pulse.last_beat": ("the number of posts in the last beat", "count"),
        "leadership.days_since_change": ("the days since the lead partner changed", "count"),
        "leadership.terms_overrun": ("the number of overrun lead terms", "count"),
        "leadership.distinct_leads": ("the number of lead partners in the last terms", "count"),
        "freshness.stale_count": ("the number of stale wiki pages", "count"),
    }
)
KNOWN_METRICS = frozenset(FIGURES)
# The counts a rule's ``min`` may name: how many topics, posts or people a figure covers.
SAMPLE_SIZES = frozenset(
    {
        "first_response.topics",
        "first_response.answered",
        "unanswered.eligible",
        "two_way.answered",
        "announcements.announcements",
        "announcements.eligible",
        "edge_replies.replies_to_centre",
        "participation.posts",
        "participation.participants",
        "cross_organisation.replies",
        "newcomers.newcomers",
        "newcomers.eligible_return",
        "freshness.posts",
    }
)

Decision = Literal["raise", "clear", "hold"]


@dataclass(frozen=True)
class MinSample:
    """The rule raises only when the figure at ``metric`` is at least ``value``."""

    metric: str
    value: float


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    window_days: int
    direction: str  # "high": high values are bad; "low": low values are bad
    raise_at: float
    clear_at: float
    minimum: MinSample | None
    kinds: frozenset[str] | None  # None: every kind of scope
    statuses: frozenset[str] | None  # None: any status
    title: str
    advice: str

    def applies_to(self, health: ScopeHealth) -> bool:
        """Whether the scope is one this rule watches (its kind and status)."""
        if self.kinds is not None and health.kind not in self.kinds:
            return False
        return self.statuses is None or health.status in self.statuses

    def crosses_raise(self, value: float) -> bool:
        if self.direction == "high":
            return value >= self.raise_at
        return value <= self.raise_at

    def crosses_clear(self, value: float) -> bool:
        if self.direction == "high":
            return value <= self.clear_at
        return value >= self.clear_at

    def value(self, health: ScopeHealth) -> float | None:
        """The watched figure, or None when it is undefined (no topics, no beats...)."""
        return _number(health.figure(self.window_days, self.metric))

    def sample_is_enough(self, health: ScopeHealth) -> bool:
        if self.minimum is None:
            return True
        size = _number(health.figure(self.window_days, self.minimum.metric))
        return size is not None and size >= self.minimum.value


@dataclass(frozen=True)
class Thresholds:
    rules: Mapping[str, Rule]  # rule name -> rule, in the file's order


def decide(rule: Rule, health: ScopeHealth, open_alert_exists: bool) -> Decision:
    """Raise, clear or leave the alert of ``rule`` on this scope as it is.

    Between the two thresholds nothing changes; an undefined figure changes nothing; a
    small sample blocks raising but not clearing; a scope the rule no longer applies to
    (a constellation gone dormant) clears.
    """
    if not rule.applies_to(health):
        return "clear" if open_alert_exists else "hold"
    value = rule.value(health)
    if value is None:
        return "hold"
    if open_alert_exists:
        return "clear" if rule.crosses_clear(value) else "hold"
    if rule.crosses_raise(value) and rule.sample_is_enough(health):
        return "raise"
    return "hold"


def load_thresholds(settings: Settings) -> Thresholds:
    """The rules from ``health.alerts_file``, or the built-in defaults when it is empty."""
    path = str(settings.get("health", {}).get("alerts_file") or "")
    windows = tuple(settings["health"]["windows"])
    return schemas.build_document(
        "health.alerts_file", path, __package__, DEFAULT_ALERTS, parse_thresholds, windows
    )


def parse_thresholds(data: Any, source: str, windows: Iterable[int]) -> Thresholds:
    """Check ``data`` (a parsed thresholds file) and build the rules; every problem, of
    the schema and beyond it, is listed in one ConfigError, each with its JSON path."""
    problems = [
        (error.json_path, error.message)
        for error in schemas.validator("health_alerts").iter_errors(data)
    ]
    rules = data.get("rules") if isinstance(data, dict) else None
    if isinstance(rules, dict):
        # Cross-field checks need a rule of the right shape: skip those the schema refused.
        refused = {path for path, _ in problems}
        for name, rule in rules.items():
            at = f"$.rules.{name}"
            if not any(path == at or path.startswith(at + ".") for path in refused):
                problems += _rule_problems(at, rule, sorted(set(windows)))
    if problems:
        lines = [f"  {path}: {message}" for path, message in sorted(problems)]
        raise ConfigError(
            f"health alerts {source}: {len(problems)} problem(s)\n" + "\n".join(lines)
        )
    return Thresholds(
        rules=MappingProxyType({name: _rule(name, body) for name, body in data["rules"].items()})
    )


def _rule_problems(at: str, rule: Mapping[str, Any], windows: list[int]) -> list[tuple[str, str]]:
    """What the schema cannot check of one (schema-valid) rule at JSON path ``at``."""
    problems = []
    if rule["metric"] not in KNOWN_METRICS:
        known = ", ".join(sorted(KNOWN_METRICS))
        problems.append((f"{at}.metric", f"{rule['metric']!r} is not one of {known}"))
    minimum = rule.get("min")
    if minimum is not None and minimum["metric"] not in SAMPLE_SIZES | KNOWN_METRICS:
        counts = ", ".join(sorted(SAMPLE_SIZES))
        problems.append(
            (f"{at}.min.metric", f"{minimum['metric']!r} is not a known count such as {counts}")
        )
    if rule["window_days"] not in windows:
        problems.append(
            (f"{at}.window_days", f"{rule['window_days']} is not one of health.windows {windows}")
        )
    raise_at, clear_at = rule["raise_at"], rule["clear_at"]
    if rule["direction"] == "high" and not clear_at < raise_at:
        problems.append(
            (f"{at}.clear_at", f"{clear_at} must be below raise_at {raise_at} (direction high)")
        )
    if rule["direction"] == "low" and not clear_at > raise_at:
        problems.append(
            (f"{at}.clear_at", f"{clear_at} must be above raise_at {raise_at} (direction low)")
        )
    return problems


def _rule(name: str, body: Mapping[str, Any]) -> Rule:
    minimum = body.get("min")
    return Rule(
        name=name,
        metric=body["metric"],
        window_days=int(body["window_days"]),
        direction=body["direction"],
        raise_at=float(body["raise_at"]),
        clear_at=float(body["clear_at"]),
        minimum=MinSample(minimum["metric"], float(minimum["value"])) if minimum else None,
        kinds=frozenset(body["kinds"]) if "kinds" in body else None,
        statuses=frozenset(body["statuses"]) if "statuses" in body else None,
        title=body["title"],
        advice=body["advice"],
    )


def figure_words(metric: str) -> str:
    """A figure's plain name for people (the dotted path when it has none)."""
    return FIGURES[metric][0] if metric in FIGURES else metric


def format_figure(metric: str, value: float | None) -> str:
    """A figure's value as people read it: shares in per cent, hours with one decimal."""
    if value is None:
        return "undefined"
    unit = FIGURES[metric][1] if metric in FIGURES else "number"
    if unit == "share":
        return f"{value * 100:.0f} %"
    if unit == "hours":
        return f"{value:.1f} hours"
    if unit == "count" and value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _number(value: Any) -> float | None:
    """A figure as a float; None for an undefined one (None, NaN, not a number)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number
