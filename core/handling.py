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
    """``session`` is the transaction in which the event is marked done, so a handler's
    store writes and the completion commit together or not at all. Platform clients are
    made on first use (most handlers need neither)."""

    session: Session
    settings: Settings
    _clients: dict[str, Any] = field(default_factory=dict)

    def wiki(self) -> WikiClient:
        if "wiki" not in self._clients:
            self._clients["wiki"] = WikiClient(self.settings["wiki"])
        client: WikiClient = self._clients["wiki"]
        return client

    def forum(self) -> ForumClient:
        if "forum" not in self._clients:
            self._clients["forum"] = ForumClient(self.settings["forum"])
        client: ForumClient = self._clients["forum"]
        return client


Handler = Callable[[Event, HandlerContext], None]
