"""Sending webhook events the way Discourse's EmitWebHookEvent job does.

Every delivery has a ``web_hook_events`` row written before the request goes out (its id is
the ``X-Discourse-Event-Id``). Worker threads send queued deliveries, so the forum's
requests never wait for a receiver; retries wait in a schedule read against ``clock``,
which tests replace to jump minutes ahead without sleeping.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sandbox.forum.state import iso
from sandbox.forum.webhook_types import CONTENT_TYPES, DELIVERY_STATUSES

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

DISCOURSE_VERSION = "3.5.0"
# Discourse.git_version: the commit the site runs. The sandbox is no checkout of Discourse,
# so it sends a fixed, well-formed 40-hex value.
DISCOURSE_GIT_VERSION = "0" * 40
# Current Discourse's user agent for its outgoing requests (the default its spec "Net::HTTPHeader
# sets a default user-agent" checks on a redelivered webhook); 2.9 sent "Discourse/<version>".
USER_AGENT = f"Discourse/{DISCOURSE_VERSION}-{DISCOURSE_GIT_VERSION}; +https://www.discourse.org/"
REQUEST_TIMEOUT = 20.0
MAX_RETRY_COUNT = 4
RETRY_BACKOFF = 5
MAX_RESPONSE_BYTES = 1_000_000
WORKER_COUNT = 4
POLL_SECONDS = 0.05
# Idle workers end, so a stopped forum (and its state) is not kept alive by its threads.
IDLE_EXIT_SECONDS = 5.0
HOOKS = "web_hooks"
EVENTS = "web_hook_events"
# Where a Flask app keeps its forum's Deliverer.
EXTENSION = "forum_webhooks"


def encode_body(event_type: str, payload: Any) -> str:
    """The request body: ``{"<type>": payload}``, compact like Oj's dump."""
    return json.dumps({event_type: payload}, ensure_ascii=False, separators=(",", ":"))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_headers(
    hook: dict[str, Any],
    event_id: int,
    event_type: str,
    event_name: str,
    body: bytes,
    base_url: str,
) -> dict[str, str]:
    """Exactly the headers Discourse sends; the signature only when the hook has a secret."""
    headers = {
        "Accept": "*/*",
        "Connection": "close",
        "Content-Length": str(len(body)),
        "Content-Type": CONTENT_TYPES.get(int(hook.get("content_type") or 1), CONTENT_TYPES[1]),
        "Host": urlsplit(hook["payload_url"]).hostname or "",
        "User-Agent": USER_AGENT,
        "X-Discourse-Instance": base_url,
        "X-Discourse-Event-Id": str(event_id),
        "X-Discourse-Event-Type": event_type,
    }
    if event_name:
        headers["X-Discourse-Event"] = event_name
    if hook.get("secret"):
        headers["X-Discourse-Event-Signature"] = signature(hook["secret"], body)
    return headers


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: str


def post(url: str, headers: dict[str, str], body: bytes, *, verify: bool) -> HttpResult:
    """One POST with exactly ``headers`` (http.client adds none of its own); no redirects."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=REQUEST_TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=REQUEST_TIMEOUT)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read(MAX_RESPONSE_BYTES)
        return HttpResult(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            data.decode("utf-8", errors="replace"),
        )
    finally:
        connection.close()


@dataclass(frozen=True)
class Delivery:
    """One queued send: an existing event row, or (event_id None) a retry that makes a new one."""

    hook_id: int
    event_type: str
    event_name: str
    body: str
    event_id: int | None = None
    retry_count: int = 0
    redelivery: bool = False


def redelivery_of(event: dict[str, Any]) -> Delivery:
    """Sending a recorded event again: same row, so the same id, headers and body."""
    return Delivery(
        event["web_hook_id"],
        event["event_type"],
        event["event_name"],
        event["payload"],
        event_id=event["id"],
        redelivery=True,
    )


class Deliverer:
    """The forum's delivery queue, its worker threads and its retry schedule."""

    def __init__(self, forum: Forum, *, clock: Callable[[], datetime] | None = None) -> None:
        self.forum = forum
        self.clock: Callable[[], datetime] = clock or forum.now
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._scheduled: list[tuple[datetime, int, Delivery]] = []
        self._order = itertools.count()
        self._idle = threading.Condition()
        self._unfinished = 0
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ---- queueing -----------------------------------------------------------------------

    def create_event(
        self, hook: dict[str, Any], event_type: str, event_name: str, body: str, retry_count: int
    ) -> dict[str, Any]:
        """Write the event row first, as Discourse does: its id goes into the headers."""
        with self.forum.lock:
            now = iso(self.forum.now())
            row: dict[str, Any] = {
                "web_hook_id": hook["id"],
                "event_type": event_type,
                "event_name": event_name,
                "payload": body,
                "headers": "{}",
                "status": 0,
                "response_headers": None,
                "response_body": None,
                "duration": 0,
                "retry_count": retry_count,
                "created_at": now,
                "updated_at": now,
            }
            event_id = self.forum.insert(EVENTS, row)
            headers = request_headers(
                hook, event_id, event_type, event_name, body.encode(), self.forum.base_url
            )
            row["headers"] = json.dumps(headers)
            return row

    def enqueue(self, hook: dict[str, Any], event_type: str, event_name: str, body: str) -> int:
        """Record the event and queue its delivery; returns the event id."""
        row = self.create_event(hook, event_type, event_name, body, 0)
        self._put(Delivery(hook["id"], event_type, event_name, body, event_id=row["id"]))
        return int(row["id"])

    def enqueue_redelivery(self, event: dict[str, Any]) -> None:
        self._put(redelivery_of(event))

    def _put(self, delivery: Delivery) -> None:
        # Under the lock, so an idle worker deciding to exit cannot miss this delivery.
        with self._idle:
            self._unfinished += 1
            self._queue.put(delivery)
            self._ensure_workers()

    def schedule(self, delivery: Delivery, delay: timedelta) -> None:
        with self._idle:
            heapq.heappush(self._scheduled, (self.clock() + delay, next(self._order), delivery))

    def release_due(self) -> None:
        """Queue the scheduled retries whose time has come on ``clock``."""
        now = self.clock()
        while True:
            with self._idle:
                if not self._scheduled or self._scheduled[0][0] > now:
                    return
                _, _, delivery = heapq.heappop(self._scheduled)
            self._put(delivery)

    def drain(self, timeout: float = 10.0) -> bool:
        """Release due retries and wait until nothing is queued or being sent."""
        deadline = time.monotonic() + timeout
        self.release_due()
        with self._idle:
            while self._unfinished:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # ---- workers ------------------------------------------------------------------------

    def _ensure_workers(self) -> None:
        """Start workers up to WORKER_COUNT; call with ``_idle`` held."""
        while len(self._workers) < WORKER_COUNT and not self._stopping.is_set():
            worker = threading.Thread(target=self._work, name="forum-webhooks", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _retire(self) -> bool:
        """Let an idle worker end, keeping one while retries wait in the schedule."""
        with self._idle:
            if not self._queue.empty() or (self._scheduled and len(self._workers) == 1):
                return False
            self._workers.remove(threading.current_thread())
            return True

    def stop(self) -> None:
        self._stopping.set()

    def _work(self) -> None:
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            self.release_due()
            try:
                delivery = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if time.monotonic() - idle_since > IDLE_EXIT_SECONDS and self._retire():
                    return
                continue
            idle_since = time.monotonic()
            try:
                self.deliver(delivery)
            finally:
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()

    # ---- sending ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> dict[str, Any] | None:
        """Send one delivery and record the answer; returns the event row (None if dropped)."""
        with self.forum.lock:
            hook = self.forum.table(HOOKS).get(delivery.hook_id)
            if hook is None:
                return None
            if not hook["active"] and delivery.event_type != "ping" and not delivery.redelivery:
                return None
            if delivery.event_id is None:
                event = self.create_event(
                    hook,
                    delivery.event_type,
                    delivery.event_name,
                    delivery.body,
                    delivery.retry_count,
                )
            else:
                event = self.forum.table(EVENTS).get(delivery.event_id) or {}
                if not event:
                    return None
            url = hook["payload_url"]
            headers: dict[str, str] = json.loads(event["headers"])
            verify = bool(hook.get("verify_certificate", True))
        started = time.monotonic()
        try:
            result: HttpResult | None = post(url, headers, delivery.body.encode(), verify=verify)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            result = None
            error = f"{type(exc).__name__}: {exc}"
        duration = int((time.monotonic() - started) * 1000)
        with self.forum.lock:
            if result is None:
                event.update(status=-1, response_headers=json.dumps({"error": error}))
            else:
                event.update(
                    status=result.status,
                    response_headers=json.dumps(result.headers),
                    response_body=result.body,
                )
            event.update(duration=duration, updated_at=iso(self.forum.now()))
            ok = result is not None and 200 <= result.status < 300
            status_name = "successful" if ok else "failed"
            hook["last_delivery_status"] = DELIVERY_STATUSES[status_name]
            if result is not None and not delivery.redelivery:
                self._after_response(hook, delivery, result.status)
            self.forum.save()
        return event

    def _after_response(self, hook: dict[str, Any], delivery: Delivery, status: int) -> None:
        """Discourse's process_webhook_response; transport errors (-1) never get here."""
        if 200 <= status < 300:
            return
        if status in (404, 410):
            if delivery.retry_count >= MAX_RETRY_COUNT:
                hook["active"] = False
                hook["last_delivery_status"] = DELIVERY_STATUSES["disabled"]
            return
        if not self.forum.site_settings.get("retry_web_hook_events"):
            return
        retry_count = delivery.retry_count + 1
        if retry_count > MAX_RETRY_COUNT:
            return
        retry = Delivery(
            delivery.hook_id,
            delivery.event_type,
            delivery.event_name,
            delivery.body,
            retry_count=retry_count,
        )
        self.schedule(retry, timedelta(minutes=RETRY_BACKOFF ** (retry_count - 1)))
