"""Deliver queued outgoing messages that are due."""

from __future__ import annotations

from datetime import datetime

from core.config import Settings
from core.store import Store


def deliver_due(store: Store, settings: Settings, *, now: datetime | None = None) -> int:
    """Attempt every message whose time has come; return how many were attempted."""
    return 0
