"""Dry runs: the event a fixture file holds, and what each rule would do with it.

A fixture is either a Discourse webhook as recorded (``{"headers": …, "body": …}``, the
shape of tests/fixtures/discourse) or an event as Constellate keeps it (``{"kind",
"subject", "payload", …}``, e.g. one copied from the inbox).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import schemas
from core import clock
from core.errors import ConstellateError
from core.events import SOURCES, Event
from core.times import parse_time
from webhooks.automations.engine import Verdict
from webhooks.incoming.discourse_events import READ, normalise


class FixtureError(ConstellateError):
    """A fixture file that holds no event: says which file and what is wrong."""


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
