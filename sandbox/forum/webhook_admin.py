"""The ``/admin/api/web_hooks`` family: managing hooks, their event log and redelivery.

API-key routes for admins only, answered with Discourse's AdminWebHookSerializer and
WebHookEventSerializer shapes; parameters as ``web_hook[...]`` form fields or JSON.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, current_app, request

from sandbox.forum.http import invalid, json_response, missing, not_found, require_admin, route
from sandbox.forum.state import Forum, iso
from sandbox.forum.webhook_delivery import (
    EVENTS,
    EXTENSION,
    HOOKS,
    Deliverer,
    encode_body,
    redelivery_of,
)
from sandbox.forum.webhook_types import (
    CONTENT_TYPES,
    DEFAULT_EVENT_TYPES,
    DELIVERY_STATUSES,
    EVENT_TYPE_IDS,
    EVENT_TYPE_NAMES,
    group_of,
)

PAGE_SIZE = 50
MIN_SECRET_LENGTH = 12


def register(app: Flask) -> None:
    route(app, "/admin/api/web_hooks", ["GET"])(list_hooks)
    route(app, "/admin/api/web_hooks", ["POST"])(create_hook)
    route(app, "/admin/api/web_hooks/<int:hook_id>", ["GET"])(show_hook)
    route(app, "/admin/api/web_hooks/<int:hook_id>", ["PUT"])(update_hook)
    route(app, "/admin/api/web_hooks/<int:hook_id>", ["DELETE"])(delete_hook)
    route(app, "/admin/api/web_hooks/<int:hook_id>/ping", ["POST"])(ping_hook)
    route(app, "/admin/api/web_hook_events/<int:hook_id>", ["GET"])(list_events)
    route(app, "/admin/api/web_hooks/<int:hook_id>/events/<int:event_id>/redeliver", ["POST"])(
        redeliver_event
    )
    route(app, "/admin/api/web_hooks/<int:hook_id>/events/failed_redeliver", ["POST"])(
        redeliver_failed
    )


def _forum() -> Forum:
    forum: Forum = current_app.extensions["forum"]
    return forum


def _deliverer() -> Deliverer:
    deliverer: Deliverer = current_app.extensions[EXTENSION]
    return deliverer


def _hook(hook_id: int) -> dict[str, Any]:
    hook = _forum().table(HOOKS).get(hook_id)
    if hook is None:
        raise not_found()
    return hook


def list_hooks() -> Response:
    require_admin()
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    hooks = sorted(_forum().table(HOOKS).values(), key=lambda hook: -hook["id"])
    page = hooks[offset : offset + PAGE_SIZE]
    return json_response(
        {
            "web_hooks": [hook_json(hook) for hook in page],
            "extras": {
                "content_types": [{"id": i, "name": n} for i, n in CONTENT_TYPES.items()],
                "default_event_types": [_type_json(name) for name in DEFAULT_EVENT_TYPES],
                "delivery_statuses": [{"id": i, "name": n} for n, i in DELIVERY_STATUSES.items()],
                "event_types": [_type_json(name) for name in EVENT_TYPE_IDS],
            },
            "total_rows_web_hooks": len(hooks),
            "load_more_web_hooks": "/admin/api/web_hooks.json?"
            + urlencode({"limit": PAGE_SIZE, "offset": offset + PAGE_SIZE}),
        }
    )


def show_hook(hook_id: int) -> Response:
    require_admin()
    return json_response({"web_hook": hook_json(_hook(hook_id))})


def create_hook() -> Response:
    require_admin()
    forum = _forum()
    now = iso(forum.now())
    hook: dict[str, Any] = {
        "payload_url": "",
        "content_type": 1,
        "secret": "",
        "wildcard_web_hook": False,
        "verify_certificate": True,
        "active": False,
        "web_hook_event_type_ids": [],
        "category_ids": [],
        "tag_names": [],
        "group_ids": [],
        "last_delivery_status": DELIVERY_STATUSES["inactive"],
        "created_at": now,
        "updated_at": now,
    }
    hook.update(_hook_params())
    if not hook["web_hook_event_type_ids"] and not hook["wildcard_web_hook"]:
        hook["web_hook_event_type_ids"] = [EVENT_TYPE_IDS[name] for name in DEFAULT_EVENT_TYPES]
    _validate(hook)
    forum.insert(HOOKS, hook)
    return json_response({"web_hook": hook_json(hook)})


def update_hook(hook_id: int) -> Response:
    require_admin()
    hook = _hook(hook_id)
    changed = {**hook, **_hook_params()}
    _validate(changed)
    changed["updated_at"] = iso(_forum().now())
    hook.update(changed)
    return json_response({"web_hook": hook_json(hook)})


def delete_hook(hook_id: int) -> Response:
    require_admin()
    forum = _forum()
    _hook(hook_id)
    del forum.table(HOOKS)[hook_id]
    events = forum.table(EVENTS)
    for event_id in [i for i, row in events.items() if row["web_hook_id"] == hook_id]:
        del events[event_id]
    return json_response({"success": "OK"})


def ping_hook(hook_id: int) -> Response:
    require_admin()
    _deliverer().enqueue(_hook(hook_id), "ping", "ping", encode_body("ping", "OK"))
    return json_response({"success": "OK"})


def list_events(hook_id: int) -> Response:
    require_admin()
    _hook(hook_id)
    status = request.args.get("status", "")
    offset = max(0, request.args.get("offset", 0, type=int) or 0)
    events = [e for e in _forum().table(EVENTS).values() if e["web_hook_id"] == hook_id]
    if status == "successful":
        events = [e for e in events if 200 <= e["status"] < 300]
    elif status == "failed":
        events = [e for e in events if not 200 <= e["status"] < 300]
    events.sort(key=lambda event: -event["id"])
    query = {"offset": offset + PAGE_SIZE, **({"status": status} if status else {})}
    return json_response(
        {
            "web_hook_events": [event_json(e) for e in events[offset : offset + PAGE_SIZE]],
            "total_rows_web_hook_events": len(events),
            "load_more_web_hook_events": f"/admin/api/web_hook_events/{hook_id}.json?"
            + urlencode(query),
            "extras": {"web_hook_id": hook_id},
        }
    )


def redeliver_event(hook_id: int, event_id: int) -> Response:
    """Synchronous, as in Discourse: the same row (id, headers, body) is sent again."""
    require_admin()
    _hook(hook_id)
    event = _forum().table(EVENTS).get(event_id)
    if event is None or event["web_hook_id"] != hook_id:
        raise not_found()
    _deliverer().deliver(redelivery_of(event))
    return json_response({"web_hook_event": event_json(event)})


def redeliver_failed(hook_id: int) -> Response:
    """Queue every failed event of the hook for redelivery (Discourse's scheduled job)."""
    require_admin()
    _hook(hook_id)
    failed = [
        event
        for event in _forum().table(EVENTS).values()
        if event["web_hook_id"] == hook_id and not 200 <= event["status"] < 300
    ]
    for event in sorted(failed, key=lambda row: row["id"]):
        _deliverer().enqueue_redelivery(event)
    return json_response({"event_ids": sorted(event["id"] for event in failed)})


# ---- parameters and JSON ------------------------------------------------------------------


def _hook_params() -> dict[str, Any]:
    """``web_hook[...]`` form fields (arrays as ``web_hook[x][]``) or ``{"web_hook": {...}}``."""
    raw: dict[str, Any] = {}
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict) and isinstance(body.get("web_hook"), dict):
        raw = dict(body["web_hook"])
    else:
        for key in request.form:
            if key.startswith("web_hook[") and key.endswith("]"):
                name = key[len("web_hook[") :].removesuffix("[]").removesuffix("]")
                values = request.form.getlist(key)
                raw[name] = values if key.endswith("[]") else values[-1]
    if not raw:
        raise missing("web_hook")
    params: dict[str, Any] = {}
    for name in ("payload_url", "secret"):
        if name in raw:
            params[name] = str(raw[name] or "").strip()
    if "content_type" in raw:
        params["content_type"] = _int(raw["content_type"], "Content type")
    for name in ("wildcard_web_hook", "verify_certificate", "active"):
        if name in raw:
            params[name] = _bool(raw[name])
    for name, label in (
        ("web_hook_event_type_ids", "Web hook event types"),
        ("category_ids", "Categories"),
        ("group_ids", "Groups"),
    ):
        if name in raw:
            params[name] = sorted({_int(value, label) for value in _list(raw[name])})
    if "tag_names" in raw:
        params["tag_names"] = [str(name).strip() for name in _list(raw["tag_names"])]
    elif "tag_ids" in raw:
        tags = _forum().table("tags")
        wanted = {_int(value, "Tags") for value in _list(raw["tag_ids"])}
        params["tag_names"] = [tags[i]["name"] for i in sorted(wanted) if i in tags]
    return params


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [item for item in items if str(item).strip() != ""]


def _int(value: Any, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{label} is invalid") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "t", "yes", "on")


def _validate(hook: dict[str, Any]) -> None:
    errors = []
    url = hook["payload_url"]
    if not url:
        errors.append("Payload url can't be blank")
    elif urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        errors.append("Payload url is invalid")
    if hook["secret"] and len(hook["secret"]) < MIN_SECRET_LENGTH:
        errors.append(f"Secret is too short (minimum is {MIN_SECRET_LENGTH} characters)")
    if hook["content_type"] not in CONTENT_TYPES:
        errors.append("Content type is not included in the list")
    if any(type_id not in EVENT_TYPE_NAMES for type_id in hook["web_hook_event_type_ids"]):
        errors.append("Web hook event types is invalid")
    if errors:
        raise invalid(*errors)


def _type_json(name: str) -> dict[str, Any]:
    return {"id": EVENT_TYPE_IDS[name], "name": name, "group": group_of(name)}


def hook_json(hook: dict[str, Any]) -> dict[str, Any]:
    forum = _forum()
    categories = forum.table("categories")
    groups = forum.table("groups")
    return {
        "id": hook["id"],
        "payload_url": hook["payload_url"],
        "content_type": hook["content_type"],
        "last_delivery_status": hook["last_delivery_status"],
        "secret": hook["secret"],
        "wildcard_web_hook": hook["wildcard_web_hook"],
        "verify_certificate": hook["verify_certificate"],
        "active": hook["active"],
        "web_hook_event_types": [
            _type_json(EVENT_TYPE_NAMES[i]) for i in hook["web_hook_event_type_ids"]
        ],
        "categories": [
            {"id": i, "name": categories[i]["name"], "slug": categories[i]["slug"]}
            for i in hook["category_ids"]
            if i in categories
        ],
        "category_ids": hook["category_ids"],
        "tag_names": hook["tag_names"],
        "groups": [{"id": i, "name": groups[i]["name"]} for i in hook["group_ids"] if i in groups],
        "group_ids": hook["group_ids"],
    }


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    hook = _forum().table(HOOKS).get(event["web_hook_id"]) or {}
    return {
        "id": event["id"],
        "web_hook_id": event["web_hook_id"],
        "request_url": hook.get("payload_url"),
        "request_body": event["payload"],
        "headers": event["headers"],
        "response_body": event["response_body"],
        "response_headers": event["response_headers"],
        "status": event["status"],
        "duration": event["duration"],
        "created_at": event["created_at"],
        "redelivering": False,
    }
