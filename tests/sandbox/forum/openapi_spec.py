"""Discourse's openapi.json (discourse_api_docs, generated from current core's rswag specs),
read from ``../shared/discourse`` beside the project root: its operations, their resolved
response schemas, and the keys a response schema documents at a ``shapes`` path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "discourse"
SPEC: dict[str, Any] = json.loads((SHARED / "openapi.json").read_text(encoding="utf-8"))


def _operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    ops = {}
    for path, methods in SPEC["paths"].items():
        for method, op in methods.items():
            if isinstance(op, dict) and "operationId" in op:
                ops[op["operationId"]] = (method.upper(), path, op)
    return ops


OPERATIONS = _operations()


def resolve(node: Any) -> Any:
    """The schema with every ``$ref`` replaced by what it names."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].split("/")[-1]
            return resolve(SPEC["components"]["schemas"][name])
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def success_schema(operation_id: str) -> dict[str, Any]:
    _method, _path, op = OPERATIONS[operation_id]
    schema: dict[str, Any] = resolve(op["responses"]["200"]["content"]["application/json"])[
        "schema"
    ]
    return schema


def schema_at(operation_id: str, path: str) -> dict[str, Any] | None:
    """The schema at a ``shapes`` path (``a.b[].c``) of the operation's 200 answer."""
    node: dict[str, Any] | None = success_schema(operation_id)
    for part in [p for p in path.replace("[]", ".[]").split(".") if p]:
        if node is None:
            return None
        children = {"[]": node.get("items")} if part == "[]" else node.get("properties") or {}
        node = children.get(part)
    return node


def documents(operation_id: str, path: str) -> bool:
    """Whether the answer's schema has a property at ``path`` (``parent.key``)."""
    return schema_at(operation_id, path) is not None
