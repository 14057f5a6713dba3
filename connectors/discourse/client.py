"""A thin forum client on pydiscourse. The full connector grows here with the sandbox issue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydiscourse import DiscourseClient

from connectors.discourse.errors import translated


class ForumClient:
    def __init__(self, cfg: Mapping[str, Any]) -> None:
        # pydiscourse has no timeout by default; a stalled forum must never block us.
        self._client = DiscourseClient(
            cfg["url"],
            api_username=cfg["api_username"],
            api_key=cfg["api_key"],
            timeout=cfg["timeout"],
        )

    def ping(self) -> dict[str, Any]:
        """The forum's /about.json: proves it answers and accepts our key."""
        with translated():
            about: dict[str, Any] = self._client.about()
        return about
