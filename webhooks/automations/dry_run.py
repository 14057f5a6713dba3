"""The dry run: what each rule would do with an event, or with the schedule events due at
a moment, doing nothing. `constellate rules dry-run` and the dashboard's Automations page
both run this one; the caller rolls its session back.

The command line may ask the forum for facts the store does not hold (an author's
groups, a topic's tags); a dashboard page reads the store only, so there those facts
stay unknown and a condition on them does not hold.

An event comes from the inbox or from a fixture file: a Discourse webhook as recorded
(``{"headers": …, "body": …}``, the shape of tests/fixtures/discourse) or an event as
Constellate keeps it (``{"kind", "subject", "payload", …}``, e.g. one copied from the
inbox).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import schemas
from connectors.discourse.client import ForumClient
from core import clock
from core.config import Settings
from core.errors import ConstellateError, Unavailable
from core.events import SOURCES, Event
from core.times import parse_time
from webhooks.automations import engine, scheduler
from webhooks.automations.engine import Verdict
from webhooks.automations.models import AutomationRun
from webhooks.automations.vocabulary import RuleSet
from webhooks.incoming.discourse_events import READ, normalise


class FixtureError(ConstellateError):
    """A fixture file that holds no event: says which file and what is wrong."""


@dataclass(frozen=True)
class PastRun:
    state: str
    started_at: datetime


@dataclass(frozen=True)
class Judged:
    event: Event
    verdicts: list[Verdict]
    # Runs already recorded for this event, by rule: a finished one is not run again.
    runs: Mapping[str, PastRun]


def forum_reader(settings: Settings) -> Callable[[], ForumClient]:
    """The forum client, made only when a fact needs the forum (a dry run asks the forum
    only for what a rule's condition or template names)."""

    @functools.cache
    def client() -> ForumClient:
        if not settings["forum"].get("url"):
            raise Unavailable("the forum is not configured", platform="forum")
        return ForumClient(settings["forum"])

    return client


def dry_run(
    session: Session,
    settings: Settings,
    rules: RuleSet,
    *,
    event: Event | None = None,
    at: datetime | None = None,
    forum: Callable[[], ForumClient] | None = None,
) -> list[Judged]:
    """What each rule would do with ``event``, or with the schedule events due ``at``.

    ``forum`` (``forum_reader``) lets facts and beat reminders' topic titles be read from
    the forum; without it the dry run reads the store only. The caller rolls back.
    """
    if event is not None:
        events = [event]
    else:
        assert at is not None
        # Beat reminders name their open questions with topic titles from the forum.
        beat_forum = forum() if forum is not None and settings["forum"].get("url") else None
        events = scheduler.due_for_rules(
            session, settings, rules, now=at, forum=beat_forum, dry_run=True
        )
    judged = []
    for found in events:
        verdicts = engine.judge(found, session, settings, rules=rules, forum=forum)
        judged.append(Judged(found, verdicts, _runs_of(session, found, verdicts)))
    return judged


def _runs_of(session: Session, event: Event, verdicts: list[Verdict]) -> dict[str, PastRun]:
    """Copied out of the session, which the dry run rolls back."""
    names = [verdict.rule for verdict in verdicts]
    if not names:
        return {}
    query = select(AutomationRun.rule, AutomationRun.state, AutomationRun.started_at).where(
        AutomationRun.rule.in_(names), AutomationRun.event_id == event.event_id
    )
    return {rule: PastRun(state, started) for rule, state, started in session.execute(query)}


def event_from_fixture(path: Path, *, now: datetime | None = None) -> Event:
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    now = now or clock.now()
    if isinstance(data, Mapping) and "headers" in data and "body" in data:
        return _webhook_event(path, data, now)
    if isinstance(data, Mapping) and "kind" in data:
        return _stored_event(path, data, now)
    raise FixtureError(
        f'{path}: not an event: expected a Discourse webhook ({{"headers", "body"}}) '
        'or an event ({"kind", "subject", "payload"})'
    )


def _webhook_event(path: Path, data: Mapping[str, Any], now: datetime) -> Event:
    headers = {str(k).lower(): str(v) for k, v in dict(data["headers"]).items()}
    name = headers.get("x-discourse-event", "")
    if name not in READ:
        raise FixtureError(f"{path}: X-Discourse-Event {name!r} is not an event Constellate reads")
    body = data["body"]
    problem = next(iter(schemas.validator(f"discourse/{READ[name]}").iter_errors(body)), None)
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "/"
        raise FixtureError(f"{path}: body {where}: {problem.message}")
    raw = json.dumps(body).encode()
    return normalise(name, body, raw, delivery_id=headers.get("x-discourse-event-id"), received=now)


def _stored_event(path: Path, data: Mapping[str, Any], now: datetime) -> Event:
    kind = str(data["kind"])
    source = str(data.get("source") or kind.split(".", 1)[0])
    if source not in SOURCES:
        source = "community"
    occurred = parse_time(data.get("occurred_at")) or now
    try:
        return Event(
            event_id=str(data.get("event_id") or f"dry-run:{kind}"),
            kind=kind,
            source=source,
            subject=str(data.get("subject") or ""),
            actor=data.get("actor"),
            occurred_at=occurred,
            delivery_id=data.get("delivery_id"),
            payload=dict(data.get("payload") or {}),
        )
    except ValueError as exc:
        raise FixtureError(f"{path}: {exc}") from None


def report(event: Event, verdicts: list[Verdict]) -> list[str]:
    """The lines a dry run prints: per matching rule, what it would do or why not."""
    lines = [f"event {event.event_id} ({event.kind}, {event.subject or 'no subject'})"]
    if not verdicts:
        lines.append("  no rule's trigger matches this event")
    for verdict in verdicts:
        if verdict.reason is not None:
            lines.append(f"  rule {verdict.rule}: would not act: {verdict.reason}")
        elif verdict.error is not None:
            lines.append(f"  rule {verdict.rule}: would fail: {verdict.error}")
        else:
            lines.append(f"  rule {verdict.rule}: would do {len(verdict.planned)} action(s)")
            lines.extend(f"    - {planned.description}" for planned in verdict.planned)
    return lines
