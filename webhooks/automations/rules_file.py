"""Rules files: read, checked completely (every problem, by rule and path), normalised into
the vocabulary's types; the built-in rules; the rules in force for a configuration.

A rules file is YAML or JSON, shaped by schemas/automation_rules.schema.json. Beyond the
schema: unique names, cron expressions, regular expressions, event patterns that match
a known kind, and templates naming only facts the trigger can fill.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cronsim
import yaml
from jsonschema import Draft202012Validator, ValidationError

import schemas
from core.config import Settings
from webhooks.automations import triggers
from webhooks.automations.templates import PLACEHOLDER, placeholders
from webhooks.automations.vocabulary import (
    ActionSpec,
    Rule,
    RuleProblem,
    RuleSet,
    RulesInvalid,
    Trigger,
)

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")
BUILTIN_SOURCE = "built-in rules"
# The action options that are templates (a list or mapping: every string inside).
TEMPLATE_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "tag": ("tags", "topic"),
    "untag": ("tags", "topic"),
    "reply": ("text", "topic", "as"),
    "create_topic": ("title", "text", "category", "tags", "as"),
    "message": ("to", "title", "text"),
    "wiki_section": ("page", "section", "text", "summary"),
    "badge": ("badge", "to", "description", "reason"),
    "credit": ("to",),
    "practice_stub": ("title", "summary", "organisation"),
    "webhook": ("data",),
}
TYPE_WORDS = {
    "string": "text",
    "array": "a list",
    "object": "a mapping",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}

# What a value that does not match a pattern should look like, by the option's name.
PATTERN_FORMS = {
    "name": "a rule name is 1 to 64 lowercase letters, digits, - and _, not starting with - or _",
    "type": "a webhook type starts with 'automation.', then lowercase letters, digits, _ . -",
    "kind": "a credit kind is lowercase letters, digits and _, starting with a letter",
}

Parts = tuple[str | int, ...]


def parse(text: str, source: str, *, time_zone: str = "UTC") -> RuleSet:
    """The rules in ``text`` (YAML or JSON); RulesInvalid lists every problem found."""
    data, problems = _read(text)
    problems += _zone_problems(time_zone)
    if data is not None:  # read (perhaps with a key given twice): check all the rest too
        problems += _schema_problems(data) + _semantic_problems(data)
    if problems:
        raise RulesInvalid(source, sorted(problems, key=_path_order))
    rules = tuple(_rule(raw) for raw in data["rules"])
    return RuleSet(rules, source, time_zone)


def load(path: str | Path, *, time_zone: str = "UTC") -> RuleSet:
    """The rules of the file at ``path``."""
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise RulesInvalid(str(path), [_problem((), f"cannot read ({exc.strerror})")]) from None
    except UnicodeDecodeError:
        raise RulesInvalid(str(path), [_problem((), "not UTF-8 text")]) from None
    return parse(text, str(path), time_zone=time_zone)


@cache
def _builtin_set() -> RuleSet:
    resource = resources.files(__package__).joinpath("builtin_rules.yaml")
    return parse(resource.read_text("utf-8"), BUILTIN_SOURCE)


def builtin_rules(settings: Settings) -> tuple[Rule, ...]:
    """The built-in rules switched on in ``settings``, with their configured options."""
    automations = settings["automations"]
    wanted = set(automations["builtins"])
    options: Mapping[str, dict[str, Any]] = {
        "unanswered": {"hours": automations["unanswered_hours"]},
        "stale_charter": {
            "days": automations["stale_charter_days"],
            "active_days": automations["stale_charter_active_days"],
        },
    }
    chosen = []
    for rule in _builtin_set().rules:
        if rule.name not in wanted:
            continue
        trigger = rule.trigger
        if trigger.kind in options:
            trigger = replace(trigger, options={**trigger.options, **options[trigger.kind]})
        chosen.append(replace(rule, trigger=trigger, builtin=True))
    return tuple(chosen)


_cache: dict[tuple[str, int, int, str], RuleSet | RulesInvalid] = {}
_cache_lock = threading.Lock()


def active_rules(settings: Settings) -> RuleSet:
    """The built-in rules that are on and the rules file's (a file rule replaces the
    built-in of its name). Read again when the file changes; RulesInvalid if invalid."""
    automations = settings["automations"]
    path = str(automations.get("rules_file") or "")
    mtime = size = 0
    if path:
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise RulesInvalid(path, [_problem((), f"cannot read ({exc.strerror})")]) from None
        mtime, size = stat.st_mtime_ns, stat.st_size
    key = (path, mtime, size, json.dumps(automations, sort_keys=True, default=str))
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        try:
            found = _combined(settings, path)
        except RulesInvalid as exc:
            found = exc
        with _cache_lock:
            if len(_cache) >= 16:  # old keys (earlier versions of the file) are dead
                _cache.clear()
            _cache[key] = found
    if isinstance(found, RulesInvalid):  # a fresh exception: no traceback piles up
        raise RulesInvalid(found.source, found.problems)
    return found


def _combined(settings: Settings, path: str) -> RuleSet:
    time_zone = str(settings["automations"]["time_zone"])
    if not path:
        if problems := _zone_problems(time_zone):
            raise RulesInvalid("automations.time_zone", problems)
        return RuleSet(builtin_rules(settings), BUILTIN_SOURCE, time_zone)
    own = load(path, time_zone=time_zone)
    names = {rule.name for rule in own.rules}
    kept = tuple(rule for rule in builtin_rules(settings) if rule.name not in names)
    return RuleSet(kept + own.rules, path, time_zone)


# -- reading ------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML that notes a key given twice in one mapping (YAML keeps the last)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[str] = []


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # << merges: overriding is their point
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            continue  # not hashable: construct_mapping reports it
        if key in seen:
            line = key_node.start_mark.line + 1
            loader.duplicates.append(f"line {line}: {key!r} is given twice in one mapping")
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _read(text: str) -> tuple[Any, list[RuleProblem]]:
    if text.lstrip().startswith(("{", "[")):  # JSON (YAML refuses the tabs JSON may have)
        duplicates: list[str] = []
        try:
            data = json.loads(text, object_pairs_hook=lambda pairs: _json_object(pairs, duplicates))
        except json.JSONDecodeError:
            pass  # YAML's flow style, or broken: YAML says where
        else:
            return data, [_problem((), message) for message in duplicates]
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [_problem((), f"YAML syntax: {where}{exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [_problem((), f"YAML syntax: {exc}")]
    finally:
        loader.dispose()
    problems = [_problem((), message) for message in loader.duplicates]
    if data is None:
        problems.append(_problem((), "the file is empty; expected a mapping with 'rules'"))
    return data, problems


def _json_object(pairs: list[tuple[str, Any]], duplicates: list[str]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    duplicates.extend(f"{key!r} is given twice in one mapping" for key in twice)
    return dict(pairs)


def _zone_problems(time_zone: str) -> list[RuleProblem]:
    try:
        ZoneInfo(time_zone)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return [_problem((), f"unknown time zone {time_zone!r} (automations.time_zone)")]
    return []


# -- problems -----------------------------------------------------------------------------


def _problem(parts: Parts, message: str, data: Any = None) -> RuleProblem:
    rule = ""
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
        rule = _label(data, parts[1])
    path = "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return RuleProblem(rule, path, message)


def _label(data: Any, index: int) -> str:
    """A rule's name when it has a valid one, else its place: "#2"."""
    try:
        name = data["rules"][index]["name"]
    except (KeyError, IndexError, TypeError):
        name = None
    return name if isinstance(name, str) and NAME.match(name) else f"#{index}"


def _path_order(problem: RuleProblem) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in problem.path.split("/")[1:]
    )


def _schema_problems(data: Any) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    for error in schemas.validator("automation_rules").iter_errors(data):
        problems.extend(_problem(parts, message, data) for parts, message in _explain(error))
    return problems


def _explain(error: ValidationError) -> Iterator[tuple[Parts, str]]:
    """Say what a schema error expected, in the rules' own words."""
    parts, kind = tuple(error.absolute_path), str(error.validator)
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    what = _what(parts)
    if kind == "additionalProperties":
        known = list(schema.get("properties", {}))
        for key in (k for k in instance if k not in known):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "one of: " + ", ".join(known)
            yield (*parts, key), f"unknown {what} {key!r} ({hint})"
    elif kind == "required":
        noun = "field " if what == "field" else "option " if parts else ""
        for key in (k for k in value if k not in instance):
            yield parts, f"missing {noun}{key!r}"
    elif kind in ("minProperties", "maxProperties") and what in ("trigger", "action"):
        kinds = ", ".join(schema["properties"])
        given = ", ".join(map(str, instance)) or "none"
        yield parts, f"exactly one {what} is needed, one of: {kinds} (given: {given})"
    elif kind in ("anyOf", "oneOf"):
        # A branch that fails only because the value is of another type says nothing; a
        # branch of the right type that fails further in says what is wrong.
        deeper = [
            sub
            for sub in error.context or ()
            if sub.relative_path or sub.validator not in ("type", "const", "enum")
        ]
        if deeper:
            for sub in deeper:
                yield from _explain(sub)
        else:
            yield parts, f"expected {schema.get('description', 'another value')}"
    else:
        yield parts, _simple(kind, value, instance, schema, parts)


def _what(parts: Parts) -> str:
    if len(parts) == 2:
        return "field"
    if len(parts) == 3 and parts[2] in ("trigger", "conditions"):
        return "trigger" if parts[2] == "trigger" else "condition"
    return "action" if len(parts) == 4 and parts[2] == "actions" else "option"


def _simple(kind: str, value: Any, instance: Any, schema: Mapping[str, Any], parts: Parts) -> str:
    if kind == "type":
        types = [value] if isinstance(value, str) else value
        return f"expected {' or '.join(TYPE_WORDS[t] for t in types)}, found {_kind(instance)}"
    if kind == "enum":
        return f"expected one of {', '.join(map(str, value))}, found {instance!r}"
    if kind == "pattern":
        form = PATTERN_FORMS.get(str(parts[-1]), f"expected the form {value}")
        return f"{instance!r}: {form}"
    messages = {
        "minItems": "must list at least one item",
        "uniqueItems": "lists the same item twice",
        "minLength": "must not be empty",
        "maxLength": f"is longer than {value} characters",
        "minimum": f"must be at least {value}",
        "maximum": f"must be at most {value}",
        "exclusiveMinimum": f"must be more than {value}",
        "minProperties": "give at least one of: " + ", ".join(schema.get("properties", {})),
    }
    return messages.get(kind, f"{kind}: {value!r}")


def _kind(instance: Any) -> str:
    if isinstance(instance, bool):
        return str(instance).lower()
    found = {str: "text", list: "a list", dict: "a mapping", type(None): "nothing"}
    return found.get(type(instance), f"a number ({instance})")


def _semantic_problems(data: Any) -> list[RuleProblem]:
    """What the schema cannot see. Written defensively: the data may not fit the schema."""
    problems: list[RuleProblem] = []
    raw_rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(raw_rules, list):
        return problems
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            continue
        at: Parts = ("rules", index)
        name = raw.get("name")
        if isinstance(name, str) and name in seen:
            message = f"the name {name!r} is taken by rule #{seen[name]}"
            problems.append(_problem((*at, "name"), message, data))
        elif isinstance(name, str):
            seen[name] = index
        issues = _rule_issues(raw)
        problems.extend(_problem((*at, *parts), message, data) for parts, message in issues)
    return problems


def _rule_issues(raw: dict[str, Any]) -> Iterator[tuple[Parts, str]]:
    trigger = _trigger(raw.get("trigger"))
    if isinstance(raw.get("trigger"), dict):
        if isinstance(patterns := raw["trigger"].get("event"), str | list):
            yield from _pattern_issues(patterns)
        cron = raw["trigger"].get("schedule")
        if isinstance(cron, dict) and isinstance(expression := cron.get("cron"), str):
            yield from _cron_issues(expression)
    conditions = raw.get("conditions")
    text = conditions.get("text") if isinstance(conditions, dict) else None
    if isinstance(text, dict) and isinstance(text.get("matches"), str):
        try:
            re.compile(text["matches"], re.IGNORECASE)
        except re.error as exc:
            where = ("conditions", "text", "matches")
            yield where, f"not a valid regular expression: {exc.msg} at position {exc.pos}"
    # A trigger that is wrong or fires on nothing known: its problem is reported already,
    # and every placeholder would look unfillable.
    known = trigger is not None and bool(triggers.kinds_of(trigger))
    available = triggers.available_facts(trigger) if known and trigger else None
    actions = raw.get("actions")
    for index, action in enumerate(actions if isinstance(actions, list) else []):
        if not isinstance(action, dict) or len(action) != 1:
            continue
        ((kind, options),) = action.items()
        if not isinstance(options, dict):
            continue
        for option in TEMPLATE_OPTIONS.get(kind, ()):
            for parts, template in _strings(options.get(option), (option,)):
                for message in _template_issues(template, available):
                    yield ("actions", index, kind, *parts), message


@cache
def _trigger_validator() -> Draft202012Validator:
    return Draft202012Validator(schemas.load("automation_rules")["$defs"]["trigger"])


def _trigger(raw: Any) -> Trigger | None:
    """The normalised trigger, or None when it does not fit the schema."""
    if not _trigger_validator().is_valid(raw):
        return None
    ((kind, options),) = raw.items()
    options = copy.deepcopy(options) or {}
    if kind == "event":
        options = {"patterns": [options] if isinstance(options, str) else options}
    elif kind == "alert":
        options = {"state": options.get("state", "raised"), "rules": options.get("rules", [])}
    elif kind == "practice_adopted":
        options = {key: options.get(key, []) for key in ("practices", "organisations")}
    elif kind == "status_change":
        options = {key: options.get(key, []) for key in ("from", "to")}
    return Trigger(kind, options)


def _pattern_issues(patterns: str | list[Any]) -> Iterator[tuple[Parts, str]]:
    listed = [patterns] if isinstance(patterns, str) else patterns
    for index, pattern in enumerate(listed):
        if isinstance(pattern, str) and not triggers.pattern_kinds(pattern):
            parts: Parts = ("trigger", "event") + (() if isinstance(patterns, str) else (index,))
            close = difflib.get_close_matches(pattern, sorted(triggers.known_kinds()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield parts, f"{pattern!r} matches no known event kind{hint}"


def _cron_issues(expression: str) -> Iterator[tuple[Parts, str]]:
    where: Parts = ("trigger", "schedule", "cron")
    fields = len(expression.split())
    if fields != 5:
        yield where, f"a cron expression has 5 fields (minute hour day month weekday), not {fields}"
        return
    try:
        cronsim.CronSim(expression, datetime(2026, 1, 1, tzinfo=UTC))
    except cronsim.CronSimError as exc:
        yield where, f"not a valid cron expression: {exc}"


def _strings(value: Any, parts: Parts) -> Iterator[tuple[Parts, str]]:
    if isinstance(value, str):
        yield parts, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*parts, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*parts, key))


def _template_issues(template: str, available: frozenset[str] | None) -> Iterator[str]:
    names, invalid = placeholders(template)
    for inner in sorted(invalid):
        yield f"{{{{{inner}}}}} is not a placeholder (a fact's name, such as {{{{author}}}})"
    rest = PLACEHOLDER.sub("", template)
    if "{{" in rest or "}}" in rest:
        yield "an unclosed '{{' or a stray '}}'"
    for name in sorted(names - (available or names)):
        close = difflib.get_close_matches(name, sorted(available or ()), n=1)
        hint = f"; did you mean {{{{{close[0]}}}}}?" if close else ""
        yield f"{{{{{name}}}}} is never filled for this trigger{hint}"


# -- normalising --------------------------------------------------------------------------


def _rule(raw: Mapping[str, Any]) -> Rule:
    trigger = _trigger(raw["trigger"])
    assert trigger is not None  # parse checked it
    conditions = copy.deepcopy(raw.get("conditions") or {})
    if isinstance(conditions.get("tags"), list):
        conditions["tags"] = {"any": conditions["tags"]}
    actions = tuple(
        ActionSpec(kind, copy.deepcopy(options))
        for action in raw["actions"]
        for kind, options in action.items()
    )
    return Rule(raw["name"], trigger, conditions, actions, raw.get("description", ""))
