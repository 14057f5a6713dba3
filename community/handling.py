"""What a handler is given: the event and a context to act through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.config import Settings
from core.events import Event


@dataclass
class HandlerContext:
    """``session`` is the session in which the event is finally marked done. Platform
    clients are made on first use (most handlers need neither) and kept in ``clients``,
    which a worker passes from event to event: one login to the wiki per worker, not one
    per event (a login costs the wiki two requests and a password hash).

    Before each platform request the session commits what the handlers wrote so far:
    on SQLite an open write transaction holds the database's only write lock, and
    incoming webhooks must not wait on a slow wiki or forum. Handlers are idempotent,
    so an event that fails after such a commit is simply handled again.
    """

    session: Session
    settings: Settings
    clients: dict[str, Any] = field(default_factory=dict)

    def wiki(self) -> WikiClient:
        if "wiki" not in self.clients:
            self.clients["wiki"] = WikiClient(self.settings["wiki"])
        client: WikiClient = self._released(self.clients["wiki"])
        return client

    def forum(self) -> ForumClient:
        if "forum" not in self.clients:
            self.clients["forum"] = ForumClient(self.settings["forum"])
        client: ForumClient = self._released(self.clients["forum"])
        return client

    def commit_so_far(self) -> None:
        if self.session.in_transaction():
            self.session.commit()

    def _released(self, client: Any) -> Any:
        """The client, committing this context's session before each of its requests."""
        client.session.before_request = self.commit_so_far
        return client


Handler = Callable[[Event, HandlerContext], None]
