"""Every condition, holding and failing, with the reason a run record would show."""

from __future__ import annotations

from typing import Any

import pytest

from webhooks.automations.conditions import check
from webhooks.automations.vocabulary import Facts

POST: dict[str, Any] = {
    "event_kind": "forum.post_created",
    "constellation": "Flood Wardens Network",
    "category_id": 12,
    "category": "Flood Wardens",
    "tags": ["Tools", "sandbags"],
    "organisation": "River Trust",
    "organisation_group": "river-trust",
    "trust_level": 1,
    "groups": ["trust_level_0", "River-Trust"],
    "is_private": False,
    "is_original_post": True,
    "is_first_post": True,
    "is_newcomer": True,
    "text": "Which TOOLS help with sandbag walls?",
    "idle_hours": 30.5,
}


def facts(**changes: Any) -> Facts:
    """The post's facts with some changed; a value of None leaves the fact out."""
    return Facts({**POST, **changes})


HOLDING = [
    {"constellation": True},
    {"constellation": ["flood wardens network", "Other"]},
    {"category": [12]},
    {"category": ["12"]},
    {"category": ["FLOOD WARDENS"]},
    {"category": ["Elsewhere", 12]},
    {"tags": {"any": ["tools", "kits"]}},
    {"tags": ["kits", "SANDBAGS"]},
    {"tags": {"all": ["tools", "sandbags"], "none": ["spam"]}},
    {"organisation": ["river trust"]},
    {"organisation": ["River-Trust"]},
    {"trust_level": {"min": 0, "max": 1}},
    {"trust_level": {"min": 1}},
    {"groups": ["river-trust", "staff"]},
    {"original_post_only": True},
    {"original_post_only": False},
    {"first_post_only": True},
    {"newcomer": True},
    {"text": {"matches": r"\btools?\b"}},
    {"text": {"contains": ["tools", "Sandbag"], "absent": ["spam"]}},
    {"idle_hours": {"min": 24, "max": 48}},
    {"constellation": True, "tags": ["tools"], "text": {"contains": ["walls"]}},
    {},
]


@pytest.mark.parametrize("conditions", HOLDING, ids=[str(c) for c in HOLDING])
def test_conditions_that_hold(conditions: dict[str, Any]) -> None:
    assert check(conditions, facts()) is None


FAILING = [
    ({"constellation": True}, {"constellation": None}, "the event belongs to no constellation"),
    ({"constellation": ["Coast"]}, {}, "Flood Wardens Network is not one of Coast"),
    ({"category": [7, "Coast"]}, {}, "the topic is in Flood Wardens, not one of 7, Coast"),
    ({"category": [7]}, {"category_id": None}, "not known for this event"),
    ({"tags": ["kits", "gauges"]}, {}, "the topic has none of kits, gauges"),
    ({"tags": {"all": ["tools", "kits"]}}, {}, "the topic lacks kits"),
    ({"tags": {"none": ["sandbags"]}}, {}, "the topic has sandbags"),
    ({"tags": {"any": ["tools"]}}, {"tags": None}, "not known for this event"),
    (
        {"organisation": ["Coast Guard"]},
        {},
        "the author's organisation River Trust is not one of Coast Guard",
    ),
    (
        {"organisation": ["River Trust"]},
        {"organisation": None, "organisation_group": None},
        "not known for this event",
    ),
    ({"trust_level": {"min": 2}}, {}, "the author's trust level 1 is below 2"),
    ({"trust_level": {"max": 0}}, {}, "the author's trust level 1 is above 0"),
    ({"trust_level": {"min": 0}}, {"trust_level": None}, "not known for this event"),
    ({"groups": ["staff"]}, {}, "the author is in none of staff"),
    ({"groups": ["staff"]}, {"groups": None}, "not known for this event"),
    ({"original_post_only": True}, {"is_original_post": False}, "the post does not open its topic"),
    ({"first_post_only": True}, {"is_first_post": False}, "not the author's first post"),
    ({"first_post_only": True}, {"is_first_post": None}, "not known for this event"),
    ({"newcomer": True}, {"is_newcomer": False}, "the author is not a newcomer"),
    ({"newcomer": False}, {}, "the author is a newcomer"),
    ({"text": {"matches": r"\bkits?\b"}}, {}, "the text does not match '\\bkits?\\b'"),
    ({"text": {"contains": ["tools", "gauges"]}}, {}, "the text does not contain 'gauges'"),
    ({"text": {"absent": ["sandbag", "x"]}}, {}, "the text contains 'sandbag'"),
    ({"text": {"contains": ["a"]}}, {"text": None}, "not known for this event"),
    ({"idle_hours": {"min": 48}}, {}, "30.5 hours since the previous activity, fewer than 48"),
    ({"idle_hours": {"max": 24}}, {}, "30.5 hours since the previous activity, more than 24"),
    ({"idle_hours": {"max": 24}}, {"idle_hours": None}, "no earlier activity to measure from"),
]


@pytest.mark.parametrize(
    ("conditions", "changes", "reason"), FAILING, ids=[f"{c}-{r}" for c, _, r in FAILING]
)
def test_conditions_that_fail_say_why(
    conditions: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    (name,) = conditions
    assert check(conditions, facts(**changes)) == f"{name}: {reason}"


def test_idle_hours_min_holds_without_earlier_activity() -> None:
    assert check({"idle_hours": {"min": 48}}, facts(idle_hours=None)) is None


def test_the_first_failing_condition_is_named() -> None:
    conditions = {"groups": ["staff"], "tags": ["kits"], "trust_level": {"min": 3}}
    assert check(conditions, facts()) == "trust_level: the author's trust level 1 is below 3"


def test_private_messages_only_for_rules_that_ask() -> None:
    private = facts(is_private=True)
    assert check({}, private) == (
        "private_message: a private message, and the rule does not ask for them"
    )
    assert check({"tags": ["tools"]}, private) is not None
    assert check({"private_message": True}, private) is None
    assert check({"private_message": True}, facts()) == "private_message: not a private message"
    assert check({"private_message": False}, facts()) is None
    assert check({}, Facts({"event_kind": "wiki.edit"})) is None  # no is_private: not one


def test_lazy_facts_are_computed_only_when_a_condition_needs_them() -> None:
    asked: list[str] = []

    def groups() -> list[str]:
        asked.append("groups")
        return ["staff"]

    lazy = Facts({"trust_level": 0, "tags": []}, {"groups": groups})
    assert check({"trust_level": {"min": 1}, "groups": ["staff"]}, lazy) is not None
    assert asked == []  # the cheap condition failed first
    assert check({"trust_level": {"min": 0}, "groups": ["STAFF"]}, lazy) is None
    assert asked == ["groups"]


def test_a_condition_that_does_not_exist_never_holds() -> None:
    assert check({"colour": ["red"]}, facts()) == "colour: not a condition"
