"""JSON Schemas shipped with Constellate, and a small cached loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jsonschema import Draft202012Validator

T = TypeVar("T")


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


# What build_document made, by builder, file text and arguments: handlers load their
# rules on every event, and checking a document against its schema costs milliseconds.
_BUILT: dict[tuple[Any, ...], Any] = {}
_BUILT_LIMIT = 64


def build_document(
    setting: str, path: str, package: str, default: str, build: Callable[..., T], *args: Any
) -> T:
    """``build(data, source, *args)`` for the JSON document a setting names (``path``), or
    the package's built-in ``default`` when the setting is empty; ``source`` says which.
    Made again only when the file's text (or ``args``) changed, so ``build`` must return
    something nobody changes, and raise for an invalid document (which is not kept).
    Unreadable or invalid JSON is a ConfigError naming the setting and the file."""
    text, source = _document_text(setting, path, package, default)
    key = (build, source, text, args)
    if key not in _BUILT:
        built = build(_parsed(setting, text, source), source, *args)
        if len(_BUILT) >= _BUILT_LIMIT:
            _BUILT.clear()
        _BUILT[key] = built
    found: T = _BUILT[key]
    return found


def _document_text(setting: str, path: str, package: str, default: str) -> tuple[str, str]:
    from core.errors import ConfigError  # schemas is imported by core.config

    if not path:
        return _builtin_text(package, default), f"built-in {default}"
    try:
        return Path(path).read_text("utf-8"), path
    except OSError as exc:
        raise ConfigError(f"{setting} {path}: cannot read ({exc.strerror})") from None


@cache
def _builtin_text(package: str, name: str) -> str:
    """A document shipped in a package: read once per process (it cannot change)."""
    return resources.files(package).joinpath(name).read_text("utf-8")


def _parsed(setting: str, text: str, source: str) -> Any:
    from core.errors import ConfigError

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{setting} {source}: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
