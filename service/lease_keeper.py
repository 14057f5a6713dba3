"""Keeping the lease of the event a worker is handling while it still works.

A lease lapses so that a killed or hung worker's event is taken over; but a handler that
is merely long (the full health recompute of hundreds of scopes) must not be taken over
while it works, or several workers end up doing the same work and all but one throw it
away. While a worker handles an event, a small thread renews the lease whenever a third
of it has passed on the worker's clock (two chances before it lapses, should the store be
busy). A killed process renews nothing, so its events are still taken over; a handler
that runs past ``MAX_LEASES`` leases is left to lapse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from core import inbox
from core.clock import Clock
from core.store import Store

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.1  # real seconds between looks at the clock (a read, no query)
MAX_LEASES = 10  # a handler still running after this many leases is taken to be hung


class LeaseKeeper:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        lease_seconds: float,
        *,
        check_seconds: float = CHECK_SECONDS,
        max_leases: int = MAX_LEASES,
    ) -> None:
        self.store, self.clock = store, clock
        self.lease = timedelta(seconds=lease_seconds)
        self.check_seconds = check_seconds
        self.max_leases = max_leases

    @contextmanager
    def keeping(self, held: inbox.Claim) -> Iterator[None]:
        """Renew ``held``'s lease until the block ends."""
        done = threading.Event()
        thread = threading.Thread(
            target=self._renew, args=(held, done), name="constellate-lease", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _renew(self, held: inbox.Claim, done: threading.Event) -> None:
        until = held.lease_until
        for _ in range(self.max_leases - 1):
            while self.clock() < until - self.lease * 2 / 3:
                if done.wait(self.check_seconds):
                    return
            if done.is_set():
                return
            until = self.clock() + self.lease
            try:
                with self.store.session() as session:
                    if not inbox.renew(session, held, until):
                        return  # settled, or taken over: nothing left to keep
            except Exception as exc:  # a busy store: the next look tries again
                log.warning("inbox event %s: lease not renewed: %s", held.row_id, exc)
