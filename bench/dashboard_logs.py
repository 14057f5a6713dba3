"""The records a running service piles up, for the dashboard benchmark: inbox events
(``bench.dashboard_events``), the outgoing messages they fanned out with their delivery
attempts, automation runs, sync runs and issues, refused deliveries and the readers'
cursors.

Messages are made by ``webhooks.outgoing.queue`` (ids and signed bodies), then everything
is written in bulk with the states a busy month leaves (mostly done, some failed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from bench.dashboard_events import inbox_events
from community.activity import ForumPostActivity
from community.constellations.models import SyncIssue
from community.constellations.sync_runs import SyncRun
from connectors.mediawiki.records import make_cursor
from core.events import Event
from core.models import InboxEvent, SyncCursor
from webhooks.automations.models import AutomationRun
from webhooks.incoming import forum_poll, wiki_poll
from webhooks.incoming.refusal_model import IncomingRefusal
from webhooks.incoming.refusals import KEEP
from webhooks.outgoing.models import DeliveryAttempt, OutgoingMessage, WebhookSubscription
from webhooks.outgoing.queue import body_for, message_id
from webhooks.outgoing.subscriptions import matches

BATCH = 5_000
SUBSCRIPTIONS = (  # url, event patterns, active
    ("https://hooks.partner-01.example.org/constellate", ["forum.topic_created", "health.*"], True),
    ("https://automation.example.net/in/forum", ["forum.post_created"], True),
    ("https://old.example.com/hook", ["wiki.*"], False),
)
RULES = ("newcomer-welcome", "unanswered-nudge", "beat-reminders", "stale-charter", "tag-guides")
SYNC_RUN_MINUTES = 30


@dataclass(frozen=True)
class LogCounts:
    inbox: int
    messages: int
    attempts: int
    runs: int
    sync_runs: int
    sync_issues: int
    refusals: int


Subscription = tuple[int, list[str], bool]  # id, event patterns, active


def write_logs(
    connection: Connection, subscriptions: list[Subscription], now: datetime
) -> LogCounts:
    rng = random.Random(29)  # noqa: S311 (made-up data, reproducible on purpose)
    inbox = messages = attempts = runs = 0
    batch: list[Event] = []
    for event in inbox_events(connection, rng, now):
        batch.append(event)
        if len(batch) == BATCH:
            counts = _write_batch(connection, rng, batch, subscriptions, now)
            inbox, messages, attempts, runs = _add((inbox, messages, attempts, runs), counts)
            batch = []
    if batch:
        counts = _write_batch(connection, rng, batch, subscriptions, now)
        inbox, messages, attempts, runs = _add((inbox, messages, attempts, runs), counts)
    sync_runs, issues = _sync(connection, rng, now)
    refusals = _refusals(connection, rng, now)
    _cursors(connection, now)
    return LogCounts(inbox, messages, attempts, runs, sync_runs, issues, refusals)


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int, int]:
    w, x, y, z = (m + n for m, n in zip(a, b, strict=True))
    return w, x, y, z


def add_subscriptions(connection: Connection, now: datetime) -> list[Subscription]:
    """The outgoing webhook subscriptions (made before the health runs, whose alerts
    fan out to them)."""
    made = []
    for n, (url, events, active) in enumerate(SUBSCRIPTIONS):
        row = {
            "url": url,
            "secret": f"whsec_{'bench' * 6}{n}",
            "events": events,
            "active": active,
            "source": "store",
            "disabled_reason": None if active else "410 Gone: the receiver is gone",
            "created_at": now - timedelta(days=200),
            "updated_at": now - timedelta(days=20),
        }
        new_id = connection.execute(
            insert(WebhookSubscription).returning(WebhookSubscription.id), row
        ).scalar_one()
        made.append((int(new_id), events, active))
    return made


# -- writing a batch -----------------------------------------------------------------------


def _write_batch(
    connection: Connection,
    rng: random.Random,
    events: list[Event],
    subscriptions: list[Subscription],
    now: datetime,
) -> tuple[int, int, int, int]:
    rows = [_inbox_row(rng, event, now) for event in events]
    connection.execute(insert(InboxEvent), rows)
    messages: list[dict[str, Any]] = []
    for event in events:
        for sub_id, patterns, active in subscriptions:
            if matches(patterns, event.kind):
                messages.append(_message(rng, sub_id, event, active, now))
    attempts: list[dict[str, Any]] = []
    if messages:
        ids = connection.execute(
            insert(OutgoingMessage).returning(OutgoingMessage.id, OutgoingMessage.attempts),
            messages,
        ).all()
        for message_row, (new_id, tries) in zip(messages, ids, strict=True):
            attempts += _attempts(rng, new_id, tries, message_row)
        if attempts:
            connection.execute(insert(DeliveryAttempt), attempts)
    ruled = [event for event in events if event.source == "forum" and rng.random() < 0.5]
    runs = [_run(rng, event, now) for event in ruled]
    if runs:
        connection.execute(insert(AutomationRun), runs)
    return len(rows), len(messages), len(attempts), len(runs)


def _inbox_row(rng: random.Random, event: Event, now: datetime) -> dict[str, Any]:
    received = event.occurred_at + timedelta(seconds=rng.randrange(1, 30))
    roll = rng.random()
    state, error, reason, attempts = "done", None, None, 1
    if event.kind.startswith("dashboard.") and event.occurred_at > now - timedelta(hours=36):
        state, attempts = "pending", 0
    elif roll < 0.015:
        state, reason = "ignored", "echo of our own bot account"
    elif roll < 0.018:
        state, attempts = "dead", 8
        error = "Unavailable: the wiki did not answer within 30 s (forum 502 Bad Gateway)"
        reason = "gave up after 8 attempts"
    elif roll < 0.021 and received > now - timedelta(days=2):
        state, attempts, error = "pending", 2, "RateLimited: retry after 30 s"
    done = state in ("done", "ignored", "dead")
    return {
        "event_id": event.event_id,
        "dedupe_key": event.dedupe_key,
        "kind": event.kind,
        "source": event.source,
        "subject": event.subject,
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "delivery_id": event.delivery_id,
        "payload": dict(event.payload),
        "state": state,
        "attempts": attempts,
        "last_error": error,
        "reason": reason,
        "available_at": received + timedelta(minutes=5) if error else received,
        "received_at": received,
        "processed_at": received + timedelta(seconds=2) if done else None,
    }


def _message(
    rng: random.Random, sub_id: int, event: Event, active: bool, now: datetime
) -> dict[str, Any]:
    created = event.occurred_at + timedelta(seconds=3)
    roll = rng.random()
    if not active:
        state, tries, status = "cancelled", 8, 410
    elif roll < 0.88:
        state, tries, status = "delivered", 1, 200
    elif roll < 0.97:
        state, tries, status = "delivered", rng.randrange(2, 4), 204
    elif roll < 0.99:
        state, tries, status = "failed", 8, 500
    else:
        state, tries, status = "pending", 1, 503
    return {
        "msg_id": message_id(sub_id, event.event_id),
        "subscription_id": sub_id,
        "event_id": event.event_id,
        "event_kind": event.kind,
        "body": body_for(event),
        "state": state,
        "attempts": tries,
        "next_attempt_at": min(now, created + timedelta(minutes=tries)),
        "last_status": status,
        "last_error": None if status < 300 else f"HTTP {status}",
        "created_at": created,
        "updated_at": created + timedelta(minutes=tries),
    }


def _attempts(
    rng: random.Random, message: int, tries: int, row: dict[str, Any]
) -> list[dict[str, Any]]:
    made = []
    for n in range(tries):
        last = n == tries - 1
        status = row["last_status"] if last else rng.choice((500, 502, 503, None))
        made.append(
            {
                "message_id": message,
                "attempted_at": row["created_at"] + timedelta(minutes=n * (n + 1)),
                "status": status,
                "duration_ms": rng.randrange(20, 900),
                "error": None if status and status < 300 else "connection refused",
                "response_snippet": "ok" if status and status < 300 else "Bad Gateway",
            }
        )
    return made


def _run(rng: random.Random, event: Event, now: datetime) -> dict[str, Any]:
    rule = rng.choice(RULES)
    roll = rng.random()
    state = "done" if roll < 0.95 else "failed" if roll < 0.99 else "stopped"
    started = event.occurred_at + timedelta(seconds=5)
    action = {"kind": "reply", "description": f"reply in {event.subject}", "result": "done"}
    if state == "failed":
        action = {**action, "result": "failed", "error": "RateLimited: retry after 60 s"}
    return {
        "rule": rule,
        "event_id": event.event_id,
        "event_kind": event.kind,
        "subject": event.subject,
        "state": state,
        "depth": 0,
        "attempts": 1 if state == "done" else 3,
        "actions": [action, {"kind": "tag", "description": "tag newcomer", "result": "done"}],
        "error": action.get("error") or ("loop limit" if state == "stopped" else None),
        "started_at": started,
        "finished_at": None if started > now else started + timedelta(seconds=2),
    }


# -- sync, refusals, cursors ---------------------------------------------------------------


def _sync(connection: Connection, rng: random.Random, now: datetime) -> tuple[int, int]:
    runs = []
    at = now - timedelta(days=80)
    while at < now:
        changed = rng.choice((0, 0, 0, 0, 1, 2, 5))
        runs.append(
            {
                "trigger": "schedule" if rng.random() < 0.97 else "dashboard",
                "scope": "full",
                "requested_by": None,
                "started_at": at,
                "finished_at": at + timedelta(seconds=rng.randrange(5, 90)),
                "pages_seen": 50,
                "pages_changed": changed,
                "counts": {"unchanged": 50 - changed, "updated": changed, "conflicts": 0},
                "error": None if rng.random() < 0.99 else "Unavailable: the wiki timed out",
            }
        )
        at += timedelta(minutes=SYNC_RUN_MINUTES)
    connection.execute(insert(SyncRun), runs)
    issues = []
    for n in range(600):
        kind = ("conflict", "conflict", "malformed", "error")[n % 4]
        created = now - timedelta(hours=3 * (600 - n))
        still_open = n >= 540
        issues.append(
            {
                "kind": kind,
                "wiki_title": f"Constellation {n % 50 + 1:02d}",
                "wiki_page_id": 5_001 + n % 50,
                "field": "charter_post" if kind == "conflict" and n % 3 else None,
                "detail": f"The charter post and the wiki page both changed ({kind} {n}).",
                "forum_post_id": 900_000 + n if kind == "conflict" else None,
                "created_at": created,
                "resolved_at": None if still_open else created + timedelta(hours=5),
            }
        )
    connection.execute(insert(SyncIssue), issues)
    return len(runs), len(issues)


def _refusals(connection: Connection, rng: random.Random, now: datetime) -> int:
    reasons = (
        (401, "signature does not match the body"),
        (400, "not JSON"),
        (413, "body larger than 1 MiB"),
        (400, "unknown event type"),
    )
    rows = []
    for n in range(KEEP):
        status, reason = rng.choice(reasons)
        rows.append(
            {
                "received_at": now - timedelta(minutes=6 * (KEEP - n)),
                "source": "forum",
                "status": status,
                "reason": reason,
                "event_name": "post_created",
                "delivery_id": str(90_000 + n),
                "body_sha256": f"{n:064x}",
                "body_size": rng.randrange(200, 4_000),
            }
        )
    connection.execute(insert(IncomingRefusal), rows)
    return len(rows)


def _cursors(connection: Connection, now: datetime) -> None:
    newest = connection.scalar(
        select(func.max(ForumPostActivity.post_id)).where(ForumPostActivity.created_at < now)
    )
    rows = [
        {"name": wiki_poll.CURSOR_NAME, "value": make_cursor(now - timedelta(minutes=2), 480_000)},
        {"name": forum_poll.CURSOR_NAME, "value": str(newest or 0)},
    ]
    connection.execute(insert(SyncCursor), [{**row, "updated_at": now} for row in rows])
