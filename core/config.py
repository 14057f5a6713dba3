"""Configuration: defaults < TOML file < CONSTELLATE_<SECTION>_<KEY> environment variables.

The merged result is validated against ``schemas/config.schema.json`` before
anything starts; the first problem found stops the start with a one-line
message naming the key and what is expected.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from jsonschema import ValidationError
from standardwebhooks.webhooks import Webhook

import schemas
from core.errors import ConfigError

Settings = dict[str, dict[str, Any]]

ENV_PREFIX = "CONSTELLATE_"
CONFIG_PATH_VAR = "CONSTELLATE_CONFIG"
MASK = "********"
# Webhook bodies and API requests are small: anything larger is refused before it is read.
MAX_REQUEST_BYTES = 1024 * 1024

DEFAULTS: Settings = {
    "service": {"base_url": "http://127.0.0.1:5080", "log_level": "INFO", "log_format": "text"},
    "store": {"url": "sqlite:///var/constellate.db"},
    "queue": {"url": "embedded"},
    "wiki": {
        "script_path": "/w/",
        "timeout": 30,
        "maxlag": 5,
        "max_retries": 5,
        "retry_wait": 5,
        "user_agent": "Constellate/0.1 (wiki-forum bridge)",
        "push_secret": "",
        "feed": "",
    },
    "forum": {
        "url": "",
        "api_username": "",
        "api_key": "",
        "timeout": 30,
        "rate_limit_wait_budget": 120,
        "requests_per_minute": 60,
        "budget_share": 0.5,
        "webhook_secret": "",
        "connect_secret": "",
    },
    "worker": {
        "embedded": True,
        "lease_seconds": 120,
        "max_attempts": 12,
        "poll_seconds": 2,
        "wiki_poll_seconds": 30,
        "forum_poll_seconds": 60,
        "backfill_on_first_start": True,
    },
    "outgoing": {"timeout": 15, "allow_private_networks": False, "subscriptions": []},
    "constellations": {
        "parent_category": "Constellations",
        "read_only_on_sunset": False,
        "recent_topics": 8,
        "participant_days": 90,
        "section_refresh_minutes": 5,
    },
    "partners": {
        "category": "Category:Partners",
        "affiliation_refresh_hours": 24,
    },
    "practices": {
        "category": "Category:Practices",
        "tag_group": "practices",
        "max_tag_length": 20,
        "candidates": {
            "keywords": [
                "how we",
                "what worked",
                "step by step",
                "checklist",
                "lessons learned",
                "template",
                "recipe",
                "our approach",
            ],
            "min_replies": 2,
            "min_likes": 1,
            "min_organisations": 2,
            "min_score": 3,
            "duplicate_similarity": 90,
            "related_similarity": 60,
        },
    },
    "credits": {
        "rules_file": "",
        "badges_hours": 6,
        "suggestions_hours": 24,
        "after_event_minutes": 10,
    },
    "health": {
        "windows": [7, 30, 90],
        "unanswered_hours": 48,
        "edge_answer_hours": 72,
        "newcomer_answer_hours": 48,
        "newcomer_return_days": 30,
        "missed_beat_fraction": 0.25,
        "leadership_terms": 3,
        "stale_days": 90,
        "stale_min_posts": 10,
        "alerts_file": "",
        "moderators_category": "",
        "message_lead_group": False,
        "recompute_minutes": 60,
    },
    "automations": {
        "rules_file": "",
        "builtins": ["beat-reminders", "unanswered-nudge", "stale-charter", "newcomer-welcome"],
        "time_zone": "UTC",
        "max_depth": 2,
        "loop_window_minutes": 60,
        "scan_seconds": 60,
        "unanswered_hours": 48,
        "stale_charter_days": 60,
        "stale_charter_active_days": 14,
        "newcomer_days": 30,
        "welcome_practices": 3,
        "beat_grace_hours": 24,
    },
    "dashboard": {
        "secure_cookies": True,
        "allowed_groups": [],
        "session_hours": 8,
        "idle_minutes": 60,
        "recheck_minutes": 5,
    },
}


def settings_for(config: Mapping[str, Mapping[str, Any]] | None) -> Settings:
    """What an app factory runs with: ``$CONSTELLATE_CONFIG`` and ``CONSTELLATE_*`` when
    ``config`` is None, else only the defaults and ``config`` (tests), validated."""
    return load_config() if config is None else load_config(overrides=config, environ={})


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build and validate the effective configuration.

    ``path`` defaults to ``$CONSTELLATE_CONFIG``; ``environ`` defaults to the
    process environment; ``overrides`` (used by tests and by ``create_app``)
    are applied last.
    """
    env = os.environ if environ is None else environ
    settings = copy.deepcopy(DEFAULTS)
    file_path = path or env.get(CONFIG_PATH_VAR)
    if file_path:
        _merge(settings, _read_toml(Path(file_path)), origin=str(file_path))
    _merge(settings, _from_environment(env), origin="environment")
    if overrides:
        _merge(settings, overrides, origin="overrides")
    _validate(settings)
    return settings


def masked(settings: Settings) -> Settings:
    """A copy with every secret (``writeOnly`` in the schema) replaced by a mask."""
    shown: Settings = _mask(settings, schemas.load("config"))
    return shown


def secret_values(settings: Settings) -> set[str]:
    """Every secret in the settings, including passwords inside URLs, for redaction."""
    found: set[str] = set()
    _collect_secrets(settings, schemas.load("config"), found)
    return found


def _mask(value: Any, schema: Mapping[str, Any]) -> Any:
    if schema.get("writeOnly") and value:
        return MASK
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _mask(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(item, schema.get("items", {})) for item in value]
    return _hide_password(value) if isinstance(value, str) else value


def _collect_secrets(value: Any, schema: Mapping[str, Any], found: set[str]) -> None:
    if isinstance(value, str) and value:
        if schema.get("writeOnly"):
            found.add(value)
        elif password := urlsplit(value).password:
            found.add(password)
    elif isinstance(value, dict):
        props = schema.get("properties", {})
        for key, item in value.items():
            _collect_secrets(item, props.get(key, {}), found)
    elif isinstance(value, list):
        for item in value:
            _collect_secrets(item, schema.get("items", {}), found)


def _hide_password(value: str) -> str:
    """Mask the password of a URL such as postgresql://user:secret@host/db."""
    parts = urlsplit(value)
    if not parts.password:
        return value
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _section_properties() -> dict[str, dict[str, dict[str, Any]]]:
    schema = schemas.load("config")
    return {name: sec.get("properties", {}) for name, sec in schema["properties"].items()}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None


def _merge(settings: Settings, layer: Mapping[str, Any], *, origin: str) -> None:
    for section, values in layer.items():
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{section}: expected a table of settings, got {values!r} (from {origin})"
            )
        settings.setdefault(section, {}).update(values)


def _from_environment(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Read CONSTELLATE_<SECTION>_<KEY>; section names have no underscore, keys may."""
    props = _section_properties()
    layer: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_PATH_VAR:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section not in props or key not in props[section]:
            known = ", ".join(
                f"{ENV_PREFIX}{s.upper()}_{k.upper()}" for s in props for k in props[s]
            )
            raise ConfigError(f"{name}: not a Constellate setting (known: {known})")
        layer.setdefault(section, {})[key] = _coerce(raw, props[section][key], name)
    return layer


def _coerce(raw: str, prop: Mapping[str, Any], name: str) -> Any:
    """Environment values are text; turn them into the type the schema expects."""
    kind = prop.get("type")
    if kind in ("array", "object"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}: not valid JSON for an {kind} ({exc.msg})") from None
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        article = "an" if kind == "integer" else "a"
        raise ConfigError(f"{name}: {raw!r} is not {article} {kind}") from None
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}: {raw!r} is not a boolean (use true or false)")
    return raw


def _validate(settings: Settings) -> None:
    errors = sorted(
        schemas.validator("config").iter_errors(settings),
        key=lambda e: (list(e.absolute_path), e.validator),
    )
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise ConfigError(_describe(errors[0]) + more)
    try:  # the pattern admits five digits; the port must also be one
        _ = urlsplit(settings["wiki"]["feed"]).port
    except ValueError:
        raise ConfigError(
            f"wiki.feed: {_hide_password(settings['wiki']['feed'])!r} names no valid port"
            " (0 to 65535)"
        ) from None
    for number, subscription in enumerate(settings["outgoing"]["subscriptions"]):
        try:  # the pattern admits base64 of impossible lengths; the library knows
            Webhook(subscription["secret"])
        except Exception:
            raise ConfigError(
                f"outgoing.subscriptions.{number}.secret: {MASK} is not a valid whsec_ secret"
                ' (make one with: python3 -c "import base64, secrets;'
                " print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\")"
            ) from None


def _describe(error: ValidationError) -> str:
    """One line: the dotted key, then what was wrong and what is expected."""
    path = ".".join(str(p) for p in error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "required":
        missing = error.message.split("'")[1]
        key = f"{path}.{missing}" if path else missing
        hint = _expectation(schema.get("properties", {}).get(missing, {}))
        return f"{key}: missing; expected {hint}" if hint else f"{key}: missing"
    if error.validator == "additionalProperties":
        return f"{path or 'config'}: {error.message}"
    instance = error.instance
    shown = (
        MASK
        if schema.get("writeOnly")
        else repr(_hide_password(instance) if isinstance(instance, str) else instance)
    )
    return f"{path}: {shown} is not valid; expected {_expectation(schema) or error.message}"


def _expectation(prop: Mapping[str, Any]) -> str:
    """What a key expects: its type and bounds, then the schema's own words."""
    hint, words = _type_hint(prop), prop.get("description")
    if hint and words:
        return f"{hint} ({words})"
    return hint or words or ""


def _type_hint(prop: Mapping[str, Any]) -> str:
    if "enum" in prop:
        return "one of " + ", ".join(map(str, prop["enum"]))
    words = [f"a {prop['type']}"] if "type" in prop else []
    if "minLength" in prop:
        words.append(f"of at least {prop['minLength']} characters")
    bounds = [
        f"{word} {prop[key]}"
        for key, word in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="))
        if key in prop
    ]
    if bounds:
        words.append(" and ".join(bounds))
    return " ".join(words)
