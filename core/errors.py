"""Errors the rest of Constellate sees when a platform call fails.

Connectors translate library exceptions (mwclient, pydiscourse, requests) into
these types at their boundary, so handlers never depend on a client library.
"""

from __future__ import annotations


class ConstellateError(Exception):
    """Base of every error Constellate raises on purpose."""


class ConfigError(ConstellateError):
    """The configuration is invalid; the message names the key and what is expected."""


class ConnectorError(ConstellateError):
    """A call to the wiki or the forum failed.

    ``code`` carries the platform's own error code when it gave one (for
    example MediaWiki's ``protectedpage``), for logs and for tests.
    """

    def __init__(self, message: str, *, platform: str, code: str | None = None) -> None:
        super().__init__(message)
        self.platform = platform
        self.code = code


class NotFound(ConnectorError):
    """The page, revision, topic or user does not exist (or is gone)."""


class PermissionDenied(ConnectorError):
    """The account may not do this (protection, missing right, bad credentials)."""


class EditConflict(ConnectorError):
    """Someone else changed the object since it was read; re-read and re-apply."""


class RateLimited(ConnectorError):
    """The platform asked us to slow down; try again after ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, platform: str, retry_after: float, code: str | None = None
    ) -> None:
        super().__init__(message, platform=platform, code=code)
        self.retry_after = retry_after


class Unavailable(ConnectorError):
    """The platform cannot be reached or is overloaded; worth retrying later.

    ``retry_after`` is set when the platform said how long to wait.
    """

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, platform=platform, code=code)
        self.retry_after = retry_after


class InvalidRequest(ConnectorError):
    """The platform refused the request as malformed; retrying will not help."""


def describe(exc: BaseException) -> str:
    """The error as stored: its type and message only (no traceback, no locals)."""
    message = str(exc).strip()
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:2000]
