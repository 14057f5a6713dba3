"""JSON Schemas shipped with Constellate, and a small cached loader."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
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
