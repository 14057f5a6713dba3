"""A worker process for tests/core/test_worker_crash.py: `python -m tests.service.crash_worker`.

Arguments: the store URL, a folder, and ``block`` or ``finish``. Its only handler
writes an effect row keyed by the event; with ``block`` it then tells the test
(a file named ``in-handler``) and waits forever, to be killed mid-event. With
``finish`` the process's clock runs a day ahead, so a lease left by a killed
worker has run out without the test having to wait.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

from community.handling import Handler, HandlerContext
from core.clock import system_clock
from core.config import load_config
from core.events import Event
from core.models import SyncCursor
from core.store import Store
from service.worker import Worker

KIND = "forum.post_created"


def main(url: str, folder: Path, mode: str) -> None:
    def handler(event: Event, context: HandlerContext) -> None:
        context.session.merge(SyncCursor(name=f"effect:{event.event_id}", value=str(os.getpid())))
        context.session.flush()  # the effect is written, not yet committed
        if mode == "block":
            (folder / "in-handler").write_text(str(os.getpid()))
            threading.Event().wait()

    def handlers_for(kind: str) -> tuple[Handler, ...]:
        return (handler,) if kind == KIND else ()

    ahead = timedelta(days=1) if mode == "finish" else timedelta(0)
    settings = load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "store": {"url": url},
            "wiki": {"url": "http://127.0.0.1:9", "username": "Bot", "password": "not-real"},
            "worker": {"embedded": False, "lease_seconds": 5},
        },
    )
    store = Store(url)
    worker = Worker(
        store,
        settings,
        worker_id=f"crash-{mode}",
        clock=lambda: system_clock() + ahead,
        handlers_for=handlers_for,
    )
    while worker.run_once():
        pass
    store.dispose()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3])
