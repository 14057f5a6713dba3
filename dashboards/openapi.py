"""The OpenAPI 3.1 description of the JSON API and the webhook receivers, served at
/api/openapi.json.

Each area describes its routes in ``dashboards/openapi/<area>.yaml`` (``paths``,
``components.schemas`` and ``components.securitySchemes``); they are merged here under one
header, so the document always lists what the route modules serve (a test compares the
two). The JSON Schemas the receivers check webhook bodies with are added as they ship
(``schemas/discourse/post.schema.json`` becomes ``DiscoursePost``), so the document
cannot drift from the checks.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, jsonify

import schemas

FRAGMENTS = Path(__file__).with_name("openapi")
SHIPPED_SCHEMA_FOLDERS = ("discourse", "wiki")

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
# Every route behind the token answers this when it is missing, unknown or revoked
# (dashboards.auth.require_reader); added here so no fragment can forget it.
UNAUTHORISED = {
    "description": "no API token (and no moderator login), or an unknown or revoked token",
    "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@cache
def document() -> dict[str, Any]:
    merged: dict[str, Any] = {
        **copy.deepcopy(HEADER),
        "paths": {},
        "components": {
            "securitySchemes": copy.deepcopy(SECURITY_SCHEMES),
            "schemas": {"Error": ERROR, **_shipped_schemas()},
            "responses": {"Unauthorized": UNAUTHORISED},
        },
    }
    components = merged["components"]
    for fragment in sorted(FRAGMENTS.glob("*.yaml")):
        part = yaml.safe_load(fragment.read_text(encoding="utf-8")) or {}
        found = {
            "paths": part.get("paths") or {},
            "schemas": (part.get("components") or {}).get("schemas") or {},
            "securitySchemes": (part.get("components") or {}).get("securitySchemes") or {},
        }
        targets = {
            "paths": merged["paths"],
            "schemas": components["schemas"],
            "securitySchemes": components["securitySchemes"],
        }
        for name, entries in found.items():
            for key, value in entries.items():
                if key in targets[name]:
                    raise ValueError(f"{fragment.name}: {name} {key!r} is described twice")
                targets[name][key] = value
    # Operations without a security of their own are behind the token: each may answer 401.
    for item in merged["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "security" not in operation:
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"$ref": "#/components/responses/Unauthorized"})
    return merged


def _shipped_schemas() -> dict[str, Any]:
    """The webhook body schemas in ``schemas/<folder>/``, named Folder + CamelCaseStem."""
    found: dict[str, Any] = {}
    for folder in SHIPPED_SCHEMA_FOLDERS:
        files = (Path(schemas.__file__).parent / folder).glob("*.schema.json")
        for stem in sorted(path.name.removesuffix(".schema.json") for path in files):
            name = folder.title() + "".join(word.title() for word in stem.split("_"))
            loaded = schemas.load(f"{folder}/{stem}")
            # Inside an OpenAPI document the dialect is the document's; an $id would
            # make the schema a separate resource for reference resolution.
            found[name] = {
                k: copy.deepcopy(v) for k, v in loaded.items() if k not in ("$schema", "$id")
            }
    return found


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
