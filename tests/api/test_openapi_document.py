"""The OpenAPI document the fuzzing reads is valid, is what the service serves, and lists
exactly the routes the service has under /api/v1 and the webhook receivers; routes and
methods that do not exist under /api/ are answered in JSON too."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask

from core.migrate import upgrade
from core.store import get_store
from dashboards.openapi import HEADER, document
from service.app import create_app
from tests.api.conftest import service_settings
from webhooks.incoming import discourse
from webhooks.incoming.discourse import WebhooksFirst

METHODS = ("get", "put", "post", "delete", "patch")
# <id:page_id> -> {page_id}
RULE_VARIABLE = re.compile(r"<(?:[^<>]*:)?(\w+)>")


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    upgrade(sqlite_url)
    made = create_app(service_settings(sqlite_url))
    yield made
    get_store(made).dispose()


def documented_routes() -> set[tuple[str, str]]:
    """(METHOD, full path) of every operation, each under its own or the document's server."""
    routes = set()
    default = HEADER["servers"][0]["url"]
    for path, item in document()["paths"].items():
        base = (item.get("servers") or [{"url": default}])[0]["url"].rstrip("/")
        routes |= {(method.upper(), base + path) for method in METHODS if method in item}
    return routes


def served_routes(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, path) of every JSON API route and every webhook receiver the app has."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = RULE_VARIABLE.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            api = path.startswith("/api/v1/")
            receiver = path.startswith("/webhooks/") and method == "POST"
            if api or receiver:
                routes.add((method, path))
    if isinstance(app.wsgi_app, WebhooksFirst):  # Discourse's receiver, in front of Flask
        routes.add(("POST", discourse.PATH))
    return routes


def test_openapi_document_is_valid_openapi_3_1() -> None:
    schemathesis.openapi.from_dict(copy.deepcopy(document())).validate()


def test_openapi_document_lists_exactly_the_api_routes_and_the_receivers(app: Flask) -> None:
    documented, served = documented_routes(), served_routes(app)
    assert ("POST", "/webhooks/discourse") in documented
    assert ("POST", "/webhooks/wiki") in documented
    assert ("GET", "/api/v1/constellations/{page_id}") in documented
    assert documented == served, {
        "served, not described": served - documented,
        "described, not served": documented - served,
    }


def test_openapi_document_is_served_as_built(app: Flask) -> None:
    answer = app.test_client().get("/api/openapi.json")
    assert answer.status_code == 200
    assert answer.get_json() == json.loads(json.dumps(document()))


def test_openapi_every_token_route_documents_401_and_receivers_their_signature() -> None:
    for path, item in document()["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            if path.startswith("/webhooks/") and "servers" in item:
                assert operation["security"] in (
                    [{"discourseSignature": []}],
                    [{"wikiPushSignature": []}],
                )
                assert "401" in operation["responses"]
            else:
                assert "security" not in operation  # the document's token
                assert operation["responses"]["401"] == {
                    "$ref": "#/components/responses/Unauthorized"
                }


def test_openapi_unknown_api_paths_and_methods_are_answered_in_json(app: Flask) -> None:
    client = app.test_client()
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "no such API resource: /api/v1/no-such-thing"}
    too_large = client.get("/api/v1/constellations/2147483648")  # beyond the store's ids
    assert too_large.status_code == 404 and too_large.is_json
    wrong = client.delete("/api/v1/sync")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert wrong.get_json() == {
        "error": "DELETE is not allowed on /api/v1/sync; use GET, HEAD, OPTIONS"
    }
    page = client.get("/dashboard/no-such-page")  # outside /api/ the HTML answer stays
    assert page.status_code == 404 and not page.is_json
