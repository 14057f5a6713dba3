"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json.

Each area of the dashboard describes its routes in ``dashboards/openapi/<area>.yaml``
(``paths`` and ``components.schemas``); they are merged here under one header, so the
document always lists what the route modules serve (a test compares the two).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, jsonify

FRAGMENTS = Path(__file__).with_name("openapi")

HEADER: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Constellate",
        "version": "1",
        "description": "Read the partnership's constellations, health, practices, people,"
        " automations, webhooks and sync state. Machines send an API token"
        " (`Authorization: Bearer …`, made with `constellate api-token create NAME`);"
        " a logged-in moderator's browser session works too.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"token": []}],
}
SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer", "description": "an API token"},
}
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


@cache
def document() -> dict[str, Any]:
    merged: dict[str, Any] = {
        **copy.deepcopy(HEADER),
        "paths": {},
        "components": {"securitySchemes": SECURITY_SCHEMES, "schemas": {"Error": ERROR}},
    }
    for fragment in sorted(FRAGMENTS.glob("*.yaml")):
        part = yaml.safe_load(fragment.read_text(encoding="utf-8")) or {}
        found = {
            "paths": part.get("paths") or {},
            "schemas": (part.get("components") or {}).get("schemas") or {},
        }
        targets = {"paths": merged["paths"], "schemas": merged["components"]["schemas"]}
        for name, entries in found.items():
            for key, value in entries.items():
                if key in targets[name]:
                    raise ValueError(f"{fragment.name}: {name} {key!r} is described twice")
                targets[name][key] = value
    return merged


def response_schema(path: str, status: int = 200, method: str = "get") -> dict[str, Any]:
    """The JSON Schema of one response, with every ``$ref`` written out (for tests and
    for tools that do not follow references)."""
    responses = document()["paths"][path][method]["responses"]
    content = responses[str(status)]["content"]["application/json"]["schema"]
    return _resolved(content)


def _resolved(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return _resolved(document()["components"]["schemas"][ref.rsplit("/", 1)[1]])
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item) for item in node]
    return node


def init_app(app: Flask) -> None:
    @app.get("/api/openapi.json")
    def openapi_document() -> Response:
        return jsonify(document())
