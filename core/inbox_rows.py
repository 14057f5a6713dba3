"""New inbox rows, inserted through the driver: one statement for many rows, no SQLAlchemy.

Receivers record every event through here (the group committer, core/group_commit.py),
and so does ``core.inbox.record`` inside a session's transaction. The statement is the
driver's own: no compiling or type processing per row, most of the cost of a receiver's
insert, and a receiving process loads no SQLAlchemy (core/database.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.driver import driver_time, mark
from core.events import Event

TABLE = "inbox_events"
# The longest text each column of core.models.InboxEvent holds (its String lengths).
LIMITS = {"event_id": 128, "dedupe_key": 128, "subject": 255, "actor": 255, "delivery_id": 128}

_COLUMNS = (  # the event id and the content key first: record_rows reads them there
    "event_id",
    "dedupe_key",
    "kind",
    "source",
    "subject",
    "actor",
    "occurred_at",
    "delivery_id",
    "payload",
    "state",
    "attempts",
    "received_at",
    "available_at",
    "body_checked",
)
_INSERTS: dict[tuple[str, int], str] = {}


def unstorable(event: Event, *, payload_may_hold_nul: bool = True) -> str | None:
    """Why the inbox cannot keep ``event``, or None: a text longer than its column, or a
    NUL character (PostgreSQL refuses both; SQLite would keep them). Receivers ask before
    recording what a sender made, so such input is refused, not a server error. A caller
    that knows the payload holds no NUL (its JSON text has no ``\\u0000``) skips the walk
    through the payload with ``payload_may_hold_nul=False``."""
    for name in ("event_id", "subject", "actor", "delivery_id"):
        value = getattr(event, name)
        limit = LIMITS[name]
        if value is not None and len(value) > limit:
            return f"its {name} would be longer than {limit} characters"
        if value is not None and "\x00" in value:
            return f"its {name} would contain a NUL character"
    if payload_may_hold_nul and _holds_nul(event.payload):
        return "the body contains a NUL character (\\u0000)"
    return None


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def row(
    event: Event,
    backend: str,
    *,
    received_at: datetime,
    available_at: datetime,
    body_checked: bool = True,
    payload_json: str | None = None,
) -> list[Any]:
    """The inbox row of a new pending ``event`` as the driver of ``backend`` takes it, in
    ``record_rows``' column order. ``body_checked=False`` when its body still needs its
    full schema check (the worker's, before any handler); ``payload_json``: the payload's
    JSON text when the caller holds it (a webhook's body is its payload), not made again."""
    sqlite = backend != "postgresql"
    return [
        event.event_id,
        event.dedupe_key,
        event.kind,
        event.source,
        event.subject,
        event.actor,
        driver_time(event.occurred_at, backend),
        event.delivery_id,
        json.dumps(dict(event.payload)) if payload_json is None else payload_json,
        "pending",
        0,
        driver_time(received_at, backend),
        driver_time(available_at, backend),
        int(body_checked) if sqlite else body_checked,
    ]


def record_rows(connection: Any, backend: str, rows: list[list[Any]]) -> list[bool]:
    """Insert rows made by ``row`` through a DB-API ``connection`` with one statement; for
    each, whether it was stored (False: a duplicate of a stored event, or of an earlier
    row of the same list). In the connection's transaction, or its own when the
    connection commits each statement (a group commit's: many rows durable at once, in
    one call)."""
    first: list[bool] = []
    parameters: list[Any] = []
    ids: set[str] = set()
    keys: set[str] = set()
    for values in rows:
        event_id, dedupe_key = values[0], values[1]
        repeated = event_id in ids or dedupe_key in keys
        first.append(not repeated)
        if not repeated:
            parameters += values
            ids.add(event_id)
            if dedupe_key is not None:
                keys.add(dedupe_key)
    if not ids:
        return first
    cursor = connection.cursor()
    try:
        # RETURNING event_id: the rows ON CONFLICT skipped are missing from the answer.
        cursor.execute(_insert_sql(backend, len(ids)), parameters)
        stored = {found for (found,) in cursor.fetchall()}
    finally:
        cursor.close()
    return [was and values[0] in stored for values, was in zip(rows, first, strict=True)]


def _insert_sql(backend: str, count: int) -> str:
    """INSERT of ``count`` rows … ON CONFLICT DO NOTHING RETURNING event_id, in the
    driver's parameter style; made once per backend and row count."""
    sql = _INSERTS.get((backend, count))
    if sql is None:
        # psycopg: the payload's JSON text is cast to the column's jsonb.
        cast = "::jsonb" if backend == "postgresql" else ""
        marks = [mark(backend) + (cast if name == "payload" else "") for name in _COLUMNS]
        one = "(" + ", ".join(marks) + ")"
        # Names and marks are this module's constants: nothing of a row enters the text.
        columns, rows = ", ".join(_COLUMNS), ", ".join([one] * count)
        sql = f"INSERT INTO {TABLE} ({columns}) VALUES {rows}"  # noqa: S608
        sql += " ON CONFLICT DO NOTHING RETURNING event_id"
        _INSERTS[(backend, count)] = sql
    return sql
