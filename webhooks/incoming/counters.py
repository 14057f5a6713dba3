"""In-process counters of incoming deliveries, for the later /metrics endpoint to read."""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_unsupported: Counter[str] = Counter()


def count_unsupported(event_name: str) -> None:
    with _lock:
        _unsupported[event_name] += 1


def unsupported_counts() -> dict[str, int]:
    """Deliveries of real Discourse events we do not read, by event name."""
    with _lock:
        return dict(_unsupported)
