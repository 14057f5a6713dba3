"""The forum sandbox's Flask app: Discourse's API-key auth, admin rate limit and error bodies."""

from __future__ import annotations

import hmac
import math
from collections import deque
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.forum import (
    routes_actions,
    routes_activity,
    routes_badges,
    routes_groups,
    routes_lists,
    routes_posts,
    routes_search,
    routes_site,
    routes_tags,
    routes_topics,
    routes_users,
    sso,
    webhooks,
)
from sandbox.forum.http import (
    INVALID_CREDENTIALS,
    NOT_FOUND,
    ApiError,
    invalid_access,
    json_response,
)
from sandbox.forum.state import ApiCall, Forum

RATE_LIMIT_WINDOW = 60.0


class AdminRateLimiter:
    """Discourse's one ``admin_api_min`` bucket shared by all admin keys: a sliding window."""

    def __init__(self, forum: Forum, per_minute: int) -> None:
        self.forum = forum
        self.per_minute = per_minute
        self.hits: deque[float] = deque()

    def check(self) -> None:
        now = self.forum.now().timestamp()
        while self.hits and self.hits[0] <= now - RATE_LIMIT_WINDOW:
            self.hits.popleft()
        if len(self.hits) >= self.per_minute:
            wait = max(1, math.ceil(self.hits[0] + RATE_LIMIT_WINDOW - now))
            raise rate_limited(wait)
        self.hits.append(now)


def rate_limited(wait: int) -> ApiError:
    time_left = "a few seconds" if wait < 5 else f"{wait} seconds"
    body = {
        "errors": [
            f"You’ve performed this action too many times. Please wait {time_left} before "
            "trying again."
        ],
        "error_type": "rate_limit",
        "extras": {"wait_seconds": wait, "time_left": time_left},
    }
    headers = {
        "Retry-After": str(wait),
        "Discourse-Rate-Limit-Error-Code": "admin_api_key_rate_limit",
    }
    return ApiError(429, body, headers)


def create_forum_app(
    forum: Forum,
    *,
    api_key: str,
    api_username: str = "system",
    rate_limit_per_minute: int = 60,
) -> Flask:
    app = Flask(__name__)
    app.extensions["forum"] = forum
    app.config["FORUM_API_KEY"] = api_key
    app.config["FORUM_API_USERNAME"] = api_username
    app.url_map.strict_slashes = False
    limiter = AdminRateLimiter(forum, rate_limit_per_minute)

    @app.before_request
    def authenticate() -> None:
        forum.lock.acquire()
        g.forum_locked = True
        g.forum_user = _api_user(forum, api_key, limiter)

    @app.teardown_request
    def release(_exc: BaseException | None) -> None:
        if g.pop("forum_locked", False):
            forum.lock.release()

    @app.after_request
    def log_api_call(response: Response) -> Response:
        if request.headers.get("Api-Key"):
            forum.api_log.append(
                ApiCall(
                    forum.now(),
                    request.method,
                    request.path,
                    response.status_code,
                    request.headers.get("Api-Username"),
                )
            )
        return response

    @app.after_request
    def persist(response: Response) -> Response:
        if request.method in ("POST", "PUT", "DELETE") and response.status_code < 400:
            forum.save()
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return json_response(exc.body, exc.status, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code in (404, 405):
            return json_response({"errors": [NOT_FOUND], "error_type": "not_found"}, 404)
        if exc.code == 400:
            return json_response({"errors": [exc.description or "bad request"]}, 400)
        return json_response({"errors": [exc.description or exc.name]}, exc.code or 500)

    for module in (
        routes_site,
        routes_users,
        routes_groups,
        routes_posts,
        routes_topics,
        routes_lists,
        routes_search,
        routes_tags,
        routes_actions,
        routes_activity,
        routes_badges,
    ):
        module.register(app)
    webhooks.init_app(app, forum)
    sso.init_app(app, forum)
    return app


def _api_user(forum: Forum, api_key: str, limiter: AdminRateLimiter) -> dict[str, Any] | None:
    """The acting user from Api-Key + Api-Username (or id, external id); None if anonymous."""
    key = request.headers.get("Api-Key")
    if not key:
        return None
    if not hmac.compare_digest(key.encode(), api_key.encode()):
        raise invalid_access(INVALID_CREDENTIALS)
    limiter.check()
    user: dict[str, Any] | None = None
    username = request.headers.get("Api-Username")
    user_id = request.headers.get("Api-User-Id")
    external_id = request.headers.get("Api-User-External-Id")
    if username:
        user = forum.user_by_username(username)
    elif user_id and user_id.lstrip("-").isdigit():
        user = forum.table("users").get(int(user_id))
    elif external_id:
        user = next(
            (u for u in forum.table("users").values() if u.get("external_id") == external_id),
            None,
        )
    if user is None or not user.get("active") or user.get("suspended_till"):
        raise invalid_access(INVALID_CREDENTIALS)
    return user
