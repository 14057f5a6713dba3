"""pydiscourse's DiscourseClient with our own request step: a session, counts, the budget.

Why a subclass overriding ``_request``: every pydiscourse method funnels through it, so
all of them keep their URLs and parameters while we change only how one request is sent.
pydiscourse's own ``_request`` sleeps up to three times on 429 with ``time.sleep`` and
ignores any budget; it also calls the module-level ``requests.request``, so there is no
session to hook or to give a test adapter. Patching ``requests.request`` globally would be
neither thread-safe nor local. The response handling below keeps pydiscourse's contract
(same exception classes, same content-type rule), so ``errors.translated`` sees what it
would see from the stock client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import (
    DiscourseClientError,
    DiscourseError,
    DiscourseRateLimitedError,
    DiscourseServerError,
)
from urllib3.exceptions import ConnectTimeoutError

from connectors.session import PlatformSession
from core import forum_budget, telemetry

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
# A 429 without a JSON body (a proxy, or Discourse's per-IP middleware) and no Retry-After.
FALLBACK_WAIT = 10.0
# Reads that failed on the way (reset, timed out, cut off) or with a 5xx are sent again a
# few times; writes never are (the callers decide, by looking first).
READS = frozenset({"GET", "HEAD"})
READ_REPEATS = 2
READ_PAUSE = 0.2  # seconds, times the repeat's number
IN_TRANSIT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class BudgetedDiscourseClient(DiscourseClient):
    """One Api-Key/Api-Username pair. Every request takes its place in the forum budget
    first (``core.forum_budget``); waits for it, and for the pauses 429s ask for, only
    within ``wait_budget`` seconds in all."""

    def __init__(
        self,
        host: str,
        api_username: str,
        api_key: str,
        *,
        timeout: float,
        session: requests.Session,
        sleep: Callable[[float], None] = time.sleep,
        wait_budget: float = 120.0,
    ) -> None:
        super().__init__(host.rstrip("/"), api_username, api_key, timeout=timeout)
        self.session = session
        self.sleep = sleep
        self.wait_budget = wait_budget
        # Outside the service (no budget chosen), this client's own: it waits out its 429s.
        self.unmetered = forum_budget.unmetered()

    def _request(
        self,
        verb: str,
        path: str,
        params: Any = None,
        files: Any = None,
        data: Any = None,
        json: Any = None,
        override_request_kwargs: dict[str, Any] | None = None,
    ) -> Any:
        headers = {
            "Accept": JSON_CONTENT_TYPE,
            "Api-Key": self.api_key,
            "Api-Username": self.api_username,
        }
        kwargs: dict[str, Any] = {
            "allow_redirects": False,
            "params": params,
            "files": files,
            "data": data,
            "json": json,
            "headers": headers,
            "timeout": self.timeout,
        }
        kwargs.update(override_request_kwargs or {})
        waited = 0.0
        repeats = 0
        budget = forum_budget.current() or self.unmetered
        while True:
            # The budget's turn writes to the store: commit the caller's writes first, as
            # the session would before sending (SQLite has one write lock).
            before = getattr(self.session, "before_request", None)
            if before is not None:
                before()
            waited += budget.acquire(max_wait=self.wait_budget - waited)
            if budget.held_for():  # a 429 came in on another thread since this place was taken
                continue
            try:
                # A request's hooks replace the session's (its counts): both, ours first.
                hooks = [_holding(budget), *self.session.hooks.get("response", [])]
                response = self.session.request(
                    verb, self.host + path, hooks={"response": hooks}, **kwargs
                )
            except IN_TRANSIT as exc:
                if _unreachable(exc) or not self._read_again(verb, repeats):
                    raise
                repeats += 1
                continue
            if response.status_code >= 500 and self._read_again(verb, repeats):
                repeats += 1
                continue
            if response.status_code != 429:
                return _decoded(response)
            wait = rate_limit_wait(response)
            log.info(
                "forum rate limit %s: asked to wait %.0f s (waited %.0f s of %.0f s)",
                response.headers.get("Discourse-Rate-Limit-Error-Code", "<unknown>"),
                wait,
                waited,
                self.wait_budget,
            )
            budget.pause(wait)  # every process of the service waits it out, not only this one
            if waited + wait > self.wait_budget:
                raise DiscourseRateLimitedError(_message(response), response=response)
            telemetry.count_rate_limit_wait("forum", wait)

    def _read_again(self, verb: str, repeats: int) -> bool:
        """Whether to send a read again (after a short pause): it is safe to repeat, and
        one lost answer must not fail a whole event whose other calls went through."""
        if verb.upper() not in READS or repeats >= READ_REPEATS:
            return False
        self.sleep(READ_PAUSE * (repeats + 1))
        return True


def _unreachable(exc: requests.RequestException) -> bool:
    """No connection at all (refused, or no answer to connect): the forum is down, and
    asking again at once would not help."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is one too


def _holding(budget: forum_budget.Budget) -> Callable[..., requests.Response]:
    """A response hook: it runs before the body is read, while the answer still holds its
    connection, so a 429's pause is known to this process's other requests before that
    connection can carry one of them (Discourse sends ``Retry-After`` with every 429)."""

    def hook(response: requests.Response, *_args: Any, **_kwargs: Any) -> requests.Response:
        wait = _header_wait(response) if response.status_code == 429 else None
        if wait is not None:
            budget.hold(wait)
        return response

    return hook


def _header_wait(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def rate_limit_wait(response: requests.Response) -> float:
    """Seconds a 429 asks for: ``extras.wait_seconds``, else ``Retry-After``, else a default."""
    try:
        body = response.json()
        return float(body["extras"]["wait_seconds"])
    except (ValueError, TypeError, KeyError):
        pass
    wait = _header_wait(response)
    return FALLBACK_WAIT if wait is None else wait


def error_messages(response: requests.Response | None) -> list[str]:
    """Discourse's ``errors`` list from an error body, or [] when there is none."""
    if response is None:
        return []
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    return [str(error) for error in errors] if isinstance(errors, list) else []


def _message(response: requests.Response) -> str:
    errors = error_messages(response)
    if errors:
        return "; ".join(errors)
    return response.reason or f"HTTP {response.status_code}"


def _decoded(response: requests.Response) -> Any:
    """pydiscourse's reading of a non-429 answer, raising its exception classes."""
    status = response.status_code
    if 400 <= status < 500:
        raise DiscourseClientError(_message(response), response=response)
    if status >= 500:
        raise DiscourseServerError(_message(response), response=response)
    if status == 302:
        raise DiscourseError("Unexpected Redirect, invalid api key or host?", response=response)
    if response.headers.get("content-type") != JSON_CONTENT_TYPE:
        if not response.content.strip():
            return None
        raise DiscourseError(
            f"Invalid Response, expecting {JSON_CONTENT_TYPE!r} got "
            f"{response.headers.get('content-type')!r}",
            response=response,
        )
    try:
        decoded = response.json()
    except ValueError as err:
        raise DiscourseError("failed to decode response", response=response) from err
    if isinstance(decoded, dict) and decoded.get("errors"):
        raise DiscourseError(
            decoded.get("message") or "; ".join(map(str, decoded["errors"])), response=response
        )
    return decoded


class ForumSession(PlatformSession):
    """A session that keeps the forum's API credentials on the forum.

    requests drops ``Authorization`` when a redirect leaves the host, but not custom
    headers: a redirect elsewhere (or from https to http) would carry the admin key
    with it. Here the key headers go wherever ``Authorization`` would not.
    """

    CREDENTIALS = ("Api-Key", "Api-Username")

    def __init__(self) -> None:
        super().__init__("forum")

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url or "", prepared_request.url or ""):
            for name in self.CREDENTIALS:
                prepared_request.headers.pop(name, None)
