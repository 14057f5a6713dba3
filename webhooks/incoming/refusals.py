"""Incoming deliveries we refused, and why, for the dashboard's webhook log.

Refused requests are unauthenticated, so nothing of their body is kept but its SHA-256
and size, and only the newest rows are: a flood of bad requests cannot fill the disk.
Written with plain statements (core/database.py), so a receiving process needs no
SQLAlchemy; the table's model, for reading, is refusal_model.py's.
"""

from __future__ import annotations

import hashlib

from core import clock
from core.database import Database
from core.driver import driver_time, mark

TABLE = "incoming_refusals"
KEEP = 10_000
REASON_LENGTH = 500
NAME_LENGTH = 100  # of an event name and a delivery id


def record(
    database: Database,
    *,
    source: str,
    status: int,
    reason: str,
    event_name: str | None,
    delivery_id: str | None,
    body: bytes,
) -> None:
    """Record a refused delivery, then keep only the newest KEEP (each statement its own
    transaction: trimming is housekeeping, the next refusal does it if this one fails)."""
    values = (
        driver_time(clock.now(), database.backend),
        source,
        status,
        reason[:REASON_LENGTH],
        (event_name or None) and event_name[:NAME_LENGTH],
        (delivery_id or None) and delivery_id[:NAME_LENGTH],
        hashlib.sha256(body).hexdigest(),
        len(body),
    )
    marks = ", ".join([mark(database.backend)] * len(values))
    columns = "received_at, source, status, reason, event_name, delivery_id, body_sha256, body_size"
    # Names and marks are this module's constants: nothing of a request enters the text.
    insert = f"INSERT INTO {TABLE} ({columns}) VALUES ({marks})"  # noqa: S608
    oldest_kept = f"SELECT id FROM {TABLE} ORDER BY id DESC LIMIT 1 OFFSET {KEEP}"  # noqa: S608
    with database.cursor() as cursor:
        cursor.execute(insert, values)
        cursor.execute(f"DELETE FROM {TABLE} WHERE id <= ({oldest_kept})")  # noqa: S608
