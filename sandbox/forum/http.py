"""Request and response helpers shared by the forum's route modules.

Discourse accepts form, multipart and JSON bodies alike; arrays come as ``name[]`` repeated
keys (or a JSON list) and hashes as ``name[key]`` (or a JSON object). Errors are raised as
``ApiError`` and rendered as Discourse's ``{"errors": [...], "error_type": ...}`` bodies.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

JSON_TYPE = "application/json; charset=utf-8"
NOT_FOUND = "The requested URL or resource could not be found."
INVALID_ACCESS = "You are not permitted to view the requested resource."
INVALID_CREDENTIALS = (
    "You are not permitted to view the requested resource. The API username or key is invalid."
)


class ApiError(Exception):
    """An error answer: status plus the JSON body Discourse sends for it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("errors"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, {"errors": [NOT_FOUND], "error_type": "not_found"})


def invalid_access(message: str = INVALID_ACCESS) -> ApiError:
    return ApiError(403, {"errors": [message], "error_type": "invalid_access"})


def missing(name: str) -> ApiError:
    return ApiError(400, {"errors": [f"param is missing or the value is empty: {name}"]})


def invalid(*messages: str) -> ApiError:
    return ApiError(422, {"errors": list(messages), "error_type": "record_invalid"})


def record_not_found() -> ApiError:
    """ActiveRecord::RecordNotFound escaping a controller: Discourse's ApplicationController
    has no handler for it, so its exceptions app falls back to Rails' PublicExceptions, which
    answers a JSON request with its own small body (no ``errors`` list)."""
    return ApiError(404, {"status": 404, "error": "Not Found"})


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, status=status, headers=headers or {})
    response.headers["Content-Type"] = JSON_TYPE
    return response


def empty_response() -> Response:
    """Rails' ``render body: nil``: 200 with no body (pydiscourse then returns None)."""
    return Response(b"", 200, content_type="text/plain; charset=utf-8")


def redirect(path: str) -> Response:
    """A 301 as Rails' ``redirect_to`` sends it, also for JSON requests: a small HTML body
    and an absolute Location (pydiscourse, which does not follow redirects, raises on it)."""
    location = forum().base_url + path
    body = f'<html><body>You are being <a href="{location}">redirected</a>.</body></html>'
    response = Response(body, 301, content_type="text/html; charset=utf-8")
    response.headers["Location"] = location
    return response


def forum() -> Forum:
    value: Forum = current_app.extensions["forum"]
    return value


def current_user() -> dict[str, Any] | None:
    user: dict[str, Any] | None = g.get("forum_user")
    return user


def require_user() -> dict[str, Any]:
    user = current_user()
    if user is None:
        raise ApiError(403, {"errors": [INVALID_ACCESS], "error_type": "invalid_access"})
    return user


def is_staff(user: dict[str, Any] | None) -> bool:
    return bool(user and (user.get("admin") or user.get("moderator")))


def require_staff() -> dict[str, Any]:
    user = require_user()
    if not is_staff(user):
        raise invalid_access()
    return user


def require_admin() -> dict[str, Any]:
    user = require_user()
    if not user.get("admin"):
        raise invalid_access()
    return user


# ---- parameters ------------------------------------------------------------------------


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.is_json else None
    return data if isinstance(data, dict) else {}


def param(name: str, default: Any = None) -> Any:
    """A scalar parameter from the JSON body, the form or the query string."""
    body = _json_body()
    if name in body:
        return body[name]
    if name in request.form:
        return request.form[name]
    return request.args.get(name, default)


def text_param(name: str, default: str | None = None) -> str | None:
    value = param(name)
    if value is None or value == "":
        return default
    return str(value)


def required(name: str) -> str:
    value = text_param(name)
    if value is None or not value.strip():
        raise missing(name)
    return value


def int_param(name: str, default: int | None = None) -> int | None:
    value = param(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def bool_param(name: str, default: bool = False) -> bool:
    value = param(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "t", "yes", "on")


def list_param(name: str) -> list[str] | None:
    """``name[]`` repeated keys, ``name`` repeated keys, a JSON list, or None if absent."""
    body = _json_body()
    for key in (name, f"{name}[]"):
        if key in body:
            value = body[key]
            if value is None:
                return []
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    for source in (request.form, request.args):
        if f"{name}[]" in source:
            return [v for v in source.getlist(f"{name}[]") if v != ""]
        if name in source:
            return [v for v in source.getlist(name) if v != ""]
    return None


def array_param(name: str) -> list[Any] | None:
    """A parameter Rails' strong parameters permit as an array (``permit(name: [])``):
    ``name[]`` repeated keys, or a JSON list under ``name``. A scalar or a JSON null under
    the name is not an array and is dropped, as Rails drops it; None if there is none."""
    body = _json_body()
    if name in body:
        value = body[name]
        return list(value) if isinstance(value, list) else None
    for source in (request.form, request.args):
        if f"{name}[]" in source:
            return list(source.getlist(f"{name}[]"))
    return None


def hash_param(name: str) -> dict[str, Any] | None:
    """``name[key]=value`` pairs or a JSON object, or None if absent."""
    body = _json_body()
    if isinstance(body.get(name), dict):
        return dict(body[name])
    prefix = f"{name}["
    found: dict[str, Any] = {}
    for source in (request.form, request.args):
        for key in source:
            if key.startswith(prefix) and key.endswith("]"):
                found[key[len(prefix) : -1]] = source[key]
    return found or None


def nested_param(outer: str, inner: str) -> Any:
    values = hash_param(outer) or {}
    return values.get(inner)


def all_params() -> dict[str, Any]:
    """Every parameter, flattened: used for the create-post memo signature."""
    merged: dict[str, Any] = {}
    for source in (request.args, request.form):
        for key in source:
            values = source.getlist(key)
            merged[key] = values if len(values) > 1 or key.endswith("[]") else values[0]
    merged.update(_json_body())
    return merged


def route(app: Flask, rule: str, methods: list[str]) -> Any:
    """Register a view for ``rule`` and ``rule.json``, as Rails' format suffix allows."""

    def decorator(view: Any) -> Any:
        app.add_url_rule(rule, view_func=view, methods=methods)
        app.add_url_rule(
            f"{rule}.json", endpoint=f"{view.__name__}_json", view_func=view, methods=methods
        )
        return view

    return decorator
