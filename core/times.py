"""Times as platforms and fixtures write them, read the same way everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time (``Z`` for UTC allowed; a time without a zone is taken as UTC) as an
    aware datetime; None for anything that is not one, so a payload's odd field is skipped."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
