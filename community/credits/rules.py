"""Scoring rules: the weight of each kind of contribution, who is never credited, and
the badges Constellate grants. Read from ``credits.rules_file`` or the built-in defaults."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import schemas
from core.config import Settings
from core.errors import ConfigError

DEFAULT_RULES = "default_rules.json"
SYSTEM_ACCOUNT = "system"  # Discourse's own automation user


@dataclass(frozen=True)
class BadgeRule:
    name: str
    description: str
    badge_type: int
    metric: str
    threshold: float


@dataclass(frozen=True)
class CreditRules:
    weights: Mapping[str, float]  # rule name -> weight per unit
    options: Mapping[str, Mapping[str, Any]]  # per-rule extras, e.g. wiki_text "per": 100
    exclude_accounts: frozenset[str]  # casefolded usernames never credited
    badges: Mapping[str, BadgeRule]  # practice_sharer | bridge_builder | constellation_lead


def load_rules(settings: Settings) -> CreditRules:
    """The rules from ``credits.rules_file``, or the built-in defaults when it is empty."""
    path = str(settings.get("credits", {}).get("rules_file") or "")
    return schemas.build_document(
        "credits.rules_file", path, __package__, DEFAULT_RULES, _checked_rules
    )


def _checked_rules(data: Any, source: str) -> CreditRules:
    _validate(data, source)
    return _build(data)


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


def _build(data: Mapping[str, Any]) -> CreditRules:
    options = {"wiki_text": {"per": 100}}
    for rule, extra in data.get("options", {}).items():
        options[rule] = {**options.get(rule, {}), **extra}
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
        weights=MappingProxyType({k: float(v) for k, v in data["weights"].items()}),
        options=MappingProxyType({k: MappingProxyType(v) for k, v in options.items()}),
        exclude_accounts=frozenset(normalise(n) for n in data.get("exclude_accounts", [])),
        badges=MappingProxyType(badges),
    )
