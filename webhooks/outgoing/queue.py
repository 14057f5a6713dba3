"""Fan an event out to the outgoing subscriptions that want it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.config import Settings
from core.events import Event


def fan_out(session: Session, event: Event, settings: Settings) -> int:
    """Queue one message per matching subscription, in the caller's transaction."""
    return 0
