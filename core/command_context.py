"""What a command that works without the app needs: settings, redacted logs, a store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core import logs
from core.config import Settings, load_config
from core.store import Store


@contextmanager
def configured_store() -> Iterator[tuple[Settings, Store]]:
    settings = load_config()
    logs.configure(settings)  # commands log too: secrets are redacted there as well
    store = Store(settings["store"]["url"])
    try:
        yield settings, store
    finally:
        store.dispose()
