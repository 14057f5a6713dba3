"""Scoring rules: the weight of each kind of contribution, who is never credited, and
the badges Constellate grants. Read from ``credits.rules_file`` or the built-in defaults.

Weights are dated: the file's top-level weights are the first version, in force from the
beginning, and each of ``versions`` changes some of them from its ``from`` moment on. A
contribution is scored by the version in force when it happened (``CreditRules.at``), so
an operator who adds a version changes no score written before it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import schemas
from core.config import Settings
from core.errors import ConfigError

DEFAULT_RULES = "default_rules.json"
SYSTEM_ACCOUNT = "system"  # Discourse's own automation user
FIRST_VERSION = "1"


@dataclass(frozen=True)
class BadgeRule:
    name: str
    description: str
    badge_type: int
    metric: str
    threshold: float


@dataclass(frozen=True)
class RulesVersion:
    """The weights in force from ``starts`` (None: from the beginning) until the next
    version's start."""

    label: str
    starts: datetime | None
    weights: Mapping[str, float]  # rule name -> weight per unit
    options: Mapping[str, Mapping[str, Any]]  # per-rule extras, e.g. wiki_text "per": 100
    note: str = ""

    def unit(self, kind: str) -> float:
        """How many counted things make one unit of ``kind`` (wiki_text: 100 tokens)."""
        return float(self.options.get(kind, {}).get("per", 1)) or 1.0

    def points(self, kind: str, units: float = 1.0) -> float:
        """The weight of a contribution of ``units`` counted things (tokens, a reply)."""
        return self.weights.get(kind, 0.0) * units / self.unit(kind)


@dataclass(frozen=True)
class CreditRules:
    versions: tuple[RulesVersion, ...]  # oldest first; the first starts at None
    exclude_accounts: frozenset[str]  # casefolded usernames never credited
    badges: Mapping[str, BadgeRule]  # practice_sharer | bridge_builder | constellation_lead

    def at(self, moment: datetime) -> RulesVersion:
        """The version in force at ``moment``: the last one started by then."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        found = self.versions[0]
        for version in self.versions[1:]:
            if version.starts is not None and version.starts <= aware:
                found = version
        return found

    def version(self, label: str | None) -> RulesVersion | None:
        return next((v for v in self.versions if v.label == label), None)


def load_rules(settings: Settings) -> CreditRules:
    """The rules from ``credits.rules_file``, or the built-in defaults when it is empty."""
    path = str(settings.get("credits", {}).get("rules_file") or "")
    return schemas.build_document(
        "credits.rules_file", path, __package__, DEFAULT_RULES, _checked_rules
    )


def _checked_rules(data: Any, source: str) -> CreditRules:
    _validate(data, source)
    return _build(data, source)


def is_excluded(
    rules: CreditRules, settings: Settings, platform: str, username: str, *, is_bot: bool = False
) -> bool:
    """True for accounts that never earn credit: bots, our own accounts, the excluded list,
    and anonymous wiki editors (an IP address is no account)."""
    if is_bot or not username or (platform == "wiki" and is_ip_address(username)):
        return True
    name = normalise(username)
    return name in own_accounts(settings, platform) or name in rules.exclude_accounts


def own_accounts(settings: Settings, platform: str) -> set[str]:
    """Constellate's own accounts on a platform (casefolded)."""
    if platform == "wiki":
        # a bot password login is "User@botname"; edits are made as "User"
        login = str(settings.get("wiki", {}).get("username") or "")
        return {normalise(login.split("@", 1)[0])} - {""}
    return {normalise(str(settings.get("forum", {}).get("api_username") or "")), SYSTEM_ACCOUNT} - {
        ""
    }


def is_ip_address(username: str) -> bool:
    """Whether a wiki "username" is an IP address: an anonymous edit's."""
    try:
        ipaddress.ip_address(username.strip())
    except ValueError:
        return False
    return True


def normalise(username: str) -> str:
    """Usernames compare case-insensitively, and MediaWiki treats "_" as a space."""
    return username.replace("_", " ").strip().casefold()


def _validate(data: Any, source: str) -> None:
    errors = sorted(schemas.validator("credit_rules").iter_errors(data), key=lambda e: e.json_path)
    if not errors:
        return
    lines = [f"  {e.json_path}: {e.message}" for e in errors]
    raise ConfigError(f"credits rules {source}: {len(errors)} problem(s)\n" + "\n".join(lines))


def _build(data: Mapping[str, Any], source: str = "") -> CreditRules:
    first = _version(
        str(data.get("version") or FIRST_VERSION), None, {}, {"wiki_text": {"per": 100}}, data
    )
    versions = [first]
    for item in data.get("versions", []):
        starts = _moment(str(item["from"]))
        before = versions[-1]
        if item["version"] in {v.label for v in versions}:
            raise ConfigError(f"credits rules {source}: version {item['version']!r} named twice")
        if before.starts is not None and starts <= before.starts:
            raise ConfigError(
                f"credits rules {source}: version {item['version']!r} starts {item['from']}, "
                f"not after version {before.label!r}; list versions oldest first"
            )
        versions.append(_version(item["version"], starts, before.weights, before.options, item))
    badges = {
        key: BadgeRule(
            name=b["name"],
            description=b["description"],
            badge_type=b["badge_type"],
            metric=b["metric"],
            threshold=float(b["threshold"]),
        )
        for key, b in data["badges"].items()
    }
    return CreditRules(
        versions=tuple(versions),
        exclude_accounts=frozenset(normalise(n) for n in data.get("exclude_accounts", [])),
        badges=MappingProxyType(badges),
    )


def _version(
    label: str,
    starts: datetime | None,
    weights: Mapping[str, float],
    options: Mapping[str, Mapping[str, Any]],
    data: Mapping[str, Any],
) -> RulesVersion:
    """A version: the one before's weights and options with ``data``'s on top."""
    merged = {k: dict(v) for k, v in options.items()}
    for rule, extra in data.get("options", {}).items():
        merged[rule] = {**merged.get(rule, {}), **extra}
    return RulesVersion(
        label=label,
        starts=starts,
        weights=MappingProxyType({**weights, **{k: float(v) for k, v in data["weights"].items()}}),
        options=MappingProxyType({k: MappingProxyType(v) for k, v in merged.items()}),
        note=str(data.get("note") or ""),
    )


def _moment(text: str) -> datetime:
    """A version's start: a date is midnight UTC; a moment keeps its offset."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
