"""Whether an event's facts meet a rule's conditions (docs/automations.md, Conditions).

Pure: the facts are all it reads. ``check`` answers with the first condition that fails
and why, in one line, so a dry run and a run record can say why a rule did nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from webhooks.automations.templates import text_of

Checker = Callable[[Any, Mapping[str, Any]], str | None]


class Unknown(Exception):
    """A fact a condition needs that this event does not offer."""


def check(conditions: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """None when every condition holds, else "name: why" for the first that fails."""
    private = _private_message(conditions.get("private_message", False), facts)
    if private is not None:
        return f"private_message: {private}"
    for name, checker in CHECKERS.items():
        if name not in conditions:
            continue
        try:
            reason = checker(conditions[name], facts)
        except Unknown:
            reason = "not known for this event"
        if reason is not None:
            return f"{name}: {reason}"
    unknown = sorted(set(conditions) - set(CHECKERS) - {"private_message"})
    return f"{unknown[0]}: not a condition" if unknown else None


def _fact(facts: Mapping[str, Any], name: str) -> Any:
    value = facts.get(name)
    if value is None:
        raise Unknown(name)
    return value


def _folded(values: Iterable[Any]) -> list[str]:
    return [str(value).casefold() for value in values]


def _listed(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in values)


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"'{word}'" for word in words)


def _private_message(wanted: Any, facts: Mapping[str, Any]) -> str | None:
    is_private = bool(facts.get("is_private"))
    if is_private and wanted is not True:
        return "a private message, and the rule does not ask for them"
    if wanted is True and not is_private:
        return "not a private message"
    return None


def _constellation(wanted: Any, facts: Mapping[str, Any]) -> str | None:
    title = facts.get("constellation")
    if title is None:
        return "the event belongs to no constellation"
    if wanted is True or str(title).casefold() in _folded(wanted):
        return None
    return f"{title} is not one of {_listed(wanted)}"


def _category(wanted: list[Any], facts: Mapping[str, Any]) -> str | None:
    ids = {int(entry) for entry in wanted if isinstance(entry, int) or str(entry).isdigit()}
    names = {str(e).casefold() for e in wanted if not (isinstance(e, int) or str(e).isdigit())}
    known = False
    category_id = facts.get("category_id") if ids else None
    if category_id is not None:
        known = True
        if int(category_id) in ids:
            return None
    name = facts.get("category") if names else None
    if name is not None:
        known = True
        if str(name).casefold() in names:
            return None
    if not known:
        raise Unknown("category")
    shown = facts.get("category") or facts.get("category_id")
    return f"the topic is in {shown}, not one of {_listed(wanted)}"


def _tags(wanted: Any, facts: Mapping[str, Any]) -> str | None:
    if isinstance(wanted, list):  # as written in a file: a list means any
        wanted = {"any": wanted}
    tags = set(_folded(_fact(facts, "tags")))
    if "any" in wanted and not tags & set(_folded(wanted["any"])):
        return f"the topic has none of {_listed(wanted['any'])}"
    lacking = [tag for tag in wanted.get("all", []) if tag.casefold() not in tags]
    if lacking:
        return f"the topic lacks {_listed(lacking)}"
    present = [tag for tag in wanted.get("none", []) if tag.casefold() in tags]
    if present:
        return f"the topic has {_listed(present)}"
    return None


def _organisation(wanted: list[str], facts: Mapping[str, Any]) -> str | None:
    own = [facts.get("organisation"), facts.get("organisation_group")]
    names = [str(name) for name in own if name is not None]
    if not names:
        raise Unknown("organisation")
    if set(_folded(names)) & set(_folded(wanted)):
        return None
    return f"the author's organisation {names[0]} is not one of {_listed(wanted)}"


def _trust_level(bounds: Mapping[str, int], facts: Mapping[str, Any]) -> str | None:
    level = int(_fact(facts, "trust_level"))
    if "min" in bounds and level < bounds["min"]:
        return f"the author's trust level {level} is below {bounds['min']}"
    if "max" in bounds and level > bounds["max"]:
        return f"the author's trust level {level} is above {bounds['max']}"
    return None


def _groups(wanted: list[str], facts: Mapping[str, Any]) -> str | None:
    if set(_folded(_fact(facts, "groups"))) & set(_folded(wanted)):
        return None
    return f"the author is in none of {_listed(wanted)}"


def _flag(fact: str, failing: str) -> Checker:
    """A ``name: true`` condition on a yes/no fact (false asks nothing)."""

    def checker(wanted: Any, facts: Mapping[str, Any]) -> str | None:
        if wanted is not True or bool(_fact(facts, fact)):
            return None
        return failing

    return checker


def _newcomer(wanted: bool, facts: Mapping[str, Any]) -> str | None:
    is_newcomer = bool(_fact(facts, "is_newcomer"))
    if is_newcomer == wanted:
        return None
    return "the author is a newcomer" if is_newcomer else "the author is not a newcomer"


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _text(wanted: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    text = str(_fact(facts, "text"))
    if "matches" in wanted:
        try:
            found = _compiled(wanted["matches"]).search(text)
        except re.error as exc:
            return f"the pattern '{wanted['matches']}' is not valid ({exc.msg})"
        if found is None:
            return f"the text does not match '{wanted['matches']}'"
    folded = text.casefold()
    missing = [word for word in wanted.get("contains", []) if word.casefold() not in folded]
    if missing:
        return f"the text does not contain {_quoted(missing)}"
    present = [word for word in wanted.get("absent", []) if word.casefold() in folded]
    if present:
        return f"the text contains {_quoted(present)}"
    return None


def _idle_hours(bounds: Mapping[str, float], facts: Mapping[str, Any]) -> str | None:
    hours = facts.get("idle_hours")
    if hours is None:  # nothing happened before: as idle as can be
        return "no earlier activity to measure from" if "max" in bounds else None
    shown = text_of(float(hours))
    if "min" in bounds and hours < bounds["min"]:
        return f"{shown} hours since the previous activity, fewer than {bounds['min']}"
    if "max" in bounds and hours > bounds["max"]:
        return f"{shown} hours since the previous activity, more than {bounds['max']}"
    return None


# In the order they are tried: the ones answered from the event itself first, those that
# may need a forum or store lookup (lazy facts) last, so a failing cheap one saves it.
CHECKERS: Mapping[str, Checker] = {
    "original_post_only": _flag("is_original_post", "the post does not open its topic"),
    "text": _text,
    "trust_level": _trust_level,
    "idle_hours": _idle_hours,
    "first_post_only": _flag("is_first_post", "not the author's first post"),
    "newcomer": _newcomer,
    "constellation": _constellation,
    "category": _category,
    "tags": _tags,
    "organisation": _organisation,
    "groups": _groups,
}
