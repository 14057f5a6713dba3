"""JSON Schemas shipped with Constellate, and a small cached loader."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator


@cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed schema ``<name>.schema.json`` from this package."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for ``<name>.schema.json``, built once per process."""
    return Draft202012Validator(load(name))


def read_document(setting: str, path: str, package: str, default: str) -> tuple[Any, str]:
    """A JSON document a setting names (``path``), or the package's built-in ``default``
    when the setting is empty; returns (data, where it came from). Unreadable or invalid
    JSON is a ConfigError naming the setting and the file."""
    from core.errors import ConfigError  # schemas is imported by core.config

    if path:
        source = path
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"{setting} {path}: cannot read ({exc.strerror})") from None
    else:
        source = f"built-in {default}"
        text = resources.files(package).joinpath(default).read_text("utf-8")
    try:
        return json.loads(text), source
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{setting} {source}: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
