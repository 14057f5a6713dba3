"""Alert thresholds: the file's checks (all problems at once, with JSON paths), the
built-in defaults, and the hysteresis of ``decide``."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import schemas
from community.constellations.charter import STATUSES
from community.health.scope import CATEGORY, CONSTELLATION, ScopeHealth
from community.health.thresholds import (
    Rule,
    decide,
    format_figure,
    load_thresholds,
    parse_thresholds,
)
from core.config import DEFAULTS, Settings
from core.errors import ConfigError

WINDOWS = [7, 30, 90]
AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def settings(**health: Any) -> Settings:
    config = copy.deepcopy(DEFAULTS)
    config["health"].update(health)
    return config


def rule_body(**fields: Any) -> dict[str, Any]:
    body = {
        "metric": "unanswered.rate",
        "window_days": 30,
        "direction": "high",
        "raise_at": 0.5,
        "clear_at": 0.25,
        "title": "Questions are left unanswered",
        "advice": "Say hello.",
    }
    return body | fields


def one_rule(**fields: Any) -> Rule:
    return parse_thresholds({"rules": {"r": rule_body(**fields)}}, "test", WINDOWS).rules["r"]


def health(
    figures: dict[str, Any],
    *,
    window_days: int = 30,
    kind: str = CONSTELLATION,
    status: str | None = "active",
) -> ScopeHealth:
    return ScopeHealth(
        scope=f"{kind}:7",
        kind=kind,
        label="Flood Wardens Network",
        status=status if kind == CONSTELLATION else None,
        lead_group=None,
        computed_at=AT,
        windows={window_days: figures},
    )


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The listed problems (the lines after the summary), each "path: message"."""
    return [line.strip() for line in str(error.value).splitlines()[1:]]


# -- the file's checks -------------------------------------------------------------------


def test_schema_problems_are_listed_together_each_with_its_json_path() -> None:
    document = {
        "rules": {
            "unanswered": rule_body(direction="up", raise_at="half"),
            "quiet": {k: v for k, v in rule_body().items() if k != "advice"},
            "Bad-Name": rule_body(),
            "kinds": rule_body(kinds=["forum"], colour="red"),
        },
        "extra": True,
    }
    with pytest.raises(ConfigError) as error:
        parse_thresholds(document, "alerts.json", WINDOWS)
    assert str(error.value).startswith("health alerts alerts.json: 7 problem(s)")
    paths = [line.split(": ", 1)[0] for line in problems_of(error)]
    assert paths == sorted(
        [
            "$",  # "extra" is not allowed
            "$.rules",  # "Bad-Name" does not match the name pattern
            "$.rules.kinds",  # "colour" is not allowed
            "$.rules.kinds.kinds[0]",
            "$.rules.quiet",  # advice is required
            "$.rules.unanswered.direction",
            "$.rules.unanswered.raise_at",
        ]
    )
    assert "$.rules.quiet: 'advice' is a required property" in problems_of(error)


def test_checks_beyond_the_schema_are_listed_with_the_schema_problems() -> None:
    document = {
        "rules": {
            "high": rule_body(raise_at=0.5, clear_at=0.5),  # high needs clear_at < raise_at
            "low": rule_body(direction="low", raise_at=1, clear_at=1),  # low: clear_at > raise
            "window": rule_body(window_days=14),
            "metric": rule_body(metric="unanswered.count", min={"metric": "posts.all", "value": 1}),
            "broken": rule_body(raise_at=None),  # a schema problem, listed alongside
        }
    }
    with pytest.raises(ConfigError) as error:
        parse_thresholds(document, "alerts.json", WINDOWS)
    listed = problems_of(error)
    assert str(error.value).startswith("health alerts alerts.json: 6 problem(s)")
    assert [line.split(": ", 1)[0] for line in listed] == [
        "$.rules.broken.raise_at",
        "$.rules.high.clear_at",
        "$.rules.low.clear_at",
        "$.rules.metric.metric",
        "$.rules.metric.min.metric",
        "$.rules.window.window_days",
    ]
    assert "$.rules.high.clear_at: 0.5 must be below raise_at 0.5 (direction high)" in listed
    assert "$.rules.low.clear_at: 1 must be above raise_at 1 (direction low)" in listed
    assert "$.rules.window.window_days: 14 is not one of health.windows [7, 30, 90]" in listed
    assert any(
        line.startswith("$.rules.metric.metric: 'unanswered.count' is not") for line in listed
    )


def test_the_built_in_defaults_load_as_documented() -> None:
    rules = load_thresholds(settings()).rules
    assert list(rules) == [
        "unanswered",
        "slow_first_response",
        "quiet",
        "missed_beats",
        "single_organisation",
        "newcomers_unanswered",
        "leadership_overrun",
    ]
    shape = {
        name: (r.metric, r.window_days, r.direction, r.raise_at, r.clear_at)
        for name, r in rules.items()
    }
    assert shape == {
        "unanswered": ("unanswered.rate", 30, "high", 0.5, 0.25),
        "slow_first_response": ("first_response.km_median_hours", 30, "high", 72, 24),
        "quiet": ("pulse.last_beat", 90, "low", 0, 2),
        "missed_beats": ("pulse.missed", 90, "high", 2, 0),
        "single_organisation": ("concentration.elephant_factor", 30, "low", 1, 2),
        "newcomers_unanswered": ("newcomers.answered_rate", 90, "low", 0.5, 0.75),
        "leadership_overrun": ("leadership.terms_overrun", 90, "high", 1, 0),
    }
    minimums = {
        name: r.minimum and (r.minimum.metric, r.minimum.value) for name, r in rules.items()
    }
    assert minimums["unanswered"] == ("unanswered.eligible", 4)
    assert minimums["slow_first_response"] == ("first_response.topics", 3)
    assert minimums["single_organisation"] == ("participation.posts", 20)
    assert minimums["newcomers_unanswered"] == ("newcomers.newcomers", 3)
    assert minimums["quiet"] is None
    assert rules["quiet"].kinds == {"constellation"} and rules["quiet"].statuses == {"active"}
    assert rules["leadership_overrun"].statuses == {"active", "forming"}
    assert rules["single_organisation"].kinds == {"constellation"}
    assert rules["single_organisation"].statuses is None
    assert rules["unanswered"].kinds is None


def test_defaults_with_fewer_windows_name_every_rule_that_needs_a_missing_one() -> None:
    with pytest.raises(ConfigError) as error:
        load_thresholds(settings(windows=[7, 30]))
    assert str(error.value).startswith("health alerts built-in default_alerts.json: 4 problem(s)")
    assert [line.split(": ", 1)[0] for line in problems_of(error)] == [
        "$.rules.leadership_overrun.window_days",
        "$.rules.missed_beats.window_days",
        "$.rules.newcomers_unanswered.window_days",
        "$.rules.quiet.window_days",
    ]


def test_an_alerts_file_replaces_the_defaults_and_its_problems_name_it(tmp_path: Path) -> None:
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps({"rules": {"stale": rule_body(metric="freshness.stale_count")}}))
    rules = load_thresholds(settings(alerts_file=str(path))).rules
    assert list(rules) == ["stale"] and rules["stale"].metric == "freshness.stale_count"

    path.write_text('{"rules": {')
    with pytest.raises(ConfigError, match=r"^health\.alerts_file .*alerts\.json: not valid JSON"):
        load_thresholds(settings(alerts_file=str(path)))
    with pytest.raises(ConfigError, match=r"^health\.alerts_file .*missing\.json: cannot read"):
        load_thresholds(settings(alerts_file=str(tmp_path / "missing.json")))


def test_the_schema_knows_the_charter_statuses() -> None:
    rule = schemas.load("health_alerts")["$defs"]["rule"]
    assert tuple(rule["properties"]["statuses"]["items"]["enum"]) == STATUSES


# -- hysteresis --------------------------------------------------------------------------


def unanswered(rate: float | None, eligible: int = 10) -> ScopeHealth:
    return health({"unanswered": {"rate": rate, "eligible": eligible}})


def test_high_raises_at_the_threshold_holds_between_and_clears_at_clear_at() -> None:
    rule = one_rule()  # high: raise at 0.5, clear at 0.25
    assert decide(rule, unanswered(0.49), open_alert_exists=False) == "hold"
    assert decide(rule, unanswered(0.5), open_alert_exists=False) == "raise"
    assert decide(rule, unanswered(0.9), open_alert_exists=False) == "raise"
    # between the thresholds nothing changes, whichever way the alert stands
    for rate in (0.26, 0.4, 0.49):
        assert decide(rule, unanswered(rate), open_alert_exists=False) == "hold"
        assert decide(rule, unanswered(rate), open_alert_exists=True) == "hold"
    assert decide(rule, unanswered(0.7), open_alert_exists=True) == "hold"  # still bad
    assert decide(rule, unanswered(0.25), open_alert_exists=True) == "clear"
    assert decide(rule, unanswered(0.0), open_alert_exists=True) == "clear"
    assert decide(rule, unanswered(0.25), open_alert_exists=False) == "hold"


def test_low_raises_at_or_below_and_clears_at_or_above() -> None:
    rule = one_rule(
        metric="pulse.last_beat", window_days=90, direction="low", raise_at=0, clear_at=2
    )

    def beat(posts: int) -> ScopeHealth:
        return health({"pulse": {"last_beat": posts}}, window_days=90)

    assert decide(rule, beat(1), open_alert_exists=False) == "hold"
    assert decide(rule, beat(0), open_alert_exists=False) == "raise"
    assert decide(rule, beat(1), open_alert_exists=True) == "hold"
    assert decide(rule, beat(0), open_alert_exists=True) == "hold"
    assert decide(rule, beat(2), open_alert_exists=True) == "clear"
    assert decide(rule, beat(5), open_alert_exists=True) == "clear"


def test_a_small_sample_blocks_raising_but_not_clearing() -> None:
    rule = one_rule(min={"metric": "unanswered.eligible", "value": 4})
    assert decide(rule, unanswered(1.0, eligible=3), open_alert_exists=False) == "hold"
    assert decide(rule, unanswered(0.75, eligible=4), open_alert_exists=False) == "raise"
    assert decide(rule, unanswered(0.0, eligible=1), open_alert_exists=True) == "clear"
    missing_size = health({"unanswered": {"rate": 1.0}})  # no sample size: not enough
    assert decide(rule, missing_size, open_alert_exists=False) == "hold"


def test_an_undefined_figure_changes_nothing() -> None:
    rule = one_rule()
    for undefined in (unanswered(None), health({}), health({"unanswered": "n/a"})):
        assert decide(rule, undefined, open_alert_exists=False) == "hold"
        assert decide(rule, undefined, open_alert_exists=True) == "hold"
    other_window = health({"unanswered": {"rate": 1.0, "eligible": 10}}, window_days=7)
    assert decide(rule, other_window, open_alert_exists=False) == "hold"


def test_kinds_and_statuses_choose_the_scopes_and_a_scope_left_behind_clears() -> None:
    rule = one_rule(kinds=["constellation"], statuses=["active", "forming"])
    bad = {"unanswered": {"rate": 0.9, "eligible": 10}}
    assert decide(rule, health(bad, status="active"), open_alert_exists=False) == "raise"
    assert decide(rule, health(bad, status="forming"), open_alert_exists=False) == "raise"
    assert decide(rule, health(bad, status="dormant"), open_alert_exists=False) == "hold"
    assert decide(rule, health(bad, status="dormant"), open_alert_exists=True) == "clear"
    assert decide(rule, health(bad, kind=CATEGORY), open_alert_exists=False) == "hold"
    assert decide(rule, health(bad, kind=CATEGORY), open_alert_exists=True) == "clear"
    # a rule naming statuses only watches constellations: a category has no status
    by_status = one_rule(statuses=["active"])
    assert decide(by_status, health(bad, kind=CATEGORY), open_alert_exists=False) == "hold"
    everywhere = one_rule()
    assert decide(everywhere, health(bad, kind=CATEGORY), open_alert_exists=False) == "raise"


def test_figures_read_as_people_read_them() -> None:
    assert format_figure("unanswered.rate", 3 / 5) == "60 %"
    assert format_figure("first_response.median_hours", 80.26) == "80.3 hours"
    assert format_figure("pulse.missed", 2.0) == "2"
    assert format_figure("participation.gini", 1 / 3) == "0.33"
    assert format_figure("unanswered.rate", None) == "undefined"
