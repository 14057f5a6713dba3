"""The HTTP session both connectors send through, with one hook before each request.

The worker sets ``before_request`` to commit a handler's store writes so far: on SQLite
a write transaction holds the database's one write lock, and holding it while a wiki or
forum call waits would make every incoming webhook wait behind it (and fail after the
busy timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from core import telemetry


class PlatformSession(requests.Session):
    """Every answer (redirects too) and every transport failure is counted for /metrics."""

    def __init__(self, platform: str) -> None:
        super().__init__()
        self.platform = platform
        self.before_request: Callable[[], None] | None = None
        self.hooks["response"].append(self._count)

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        telemetry.count_platform_request(self.platform, response.status_code)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if self.before_request is not None:
            self.before_request()
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.RequestException:
            telemetry.count_platform_request(self.platform, "error")
            raise
