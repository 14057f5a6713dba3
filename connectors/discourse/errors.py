"""pydiscourse and requests exceptions translated into Constellate's error types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from pydiscourse.exceptions import DiscourseError, DiscourseRateLimitedError

from core.errors import (
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)

PLATFORM = "forum"
DEFAULT_RETRY_AFTER = 60.0


@contextmanager
def translated() -> Iterator[None]:
    """Run a forum call; any library error leaves as a ConnectorError subclass."""
    try:
        yield
    except DiscourseRateLimitedError as exc:
        raise RateLimited(
            str(exc), platform=PLATFORM, retry_after=_retry_after(exc.response)
        ) from exc
    except DiscourseError as exc:
        raise _from_status(exc.response, str(exc)) from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise Unavailable(f"forum unreachable: {type(exc).__name__}", platform=PLATFORM) from exc
    except requests.RequestException as exc:
        raise ConnectorError(f"forum request failed: {exc}", platform=PLATFORM) from exc


def _from_status(response: requests.Response | None, message: str) -> ConnectorError:
    status = response.status_code if response is not None else None
    if status in (401, 403):
        return PermissionDenied(message, platform=PLATFORM, code=str(status))
    if status in (404, 410):
        return NotFound(message, platform=PLATFORM, code=str(status))
    if status == 429:
        return RateLimited(message, platform=PLATFORM, retry_after=_retry_after(response))
    if status is not None and 400 <= status < 500:
        return InvalidRequest(message, platform=PLATFORM, code=str(status))
    return Unavailable(message, platform=PLATFORM, code=str(status) if status else None)


def _retry_after(response: requests.Response | None) -> float:
    if response is None:
        return DEFAULT_RETRY_AFTER
    try:
        return float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER))
    except ValueError:
        return DEFAULT_RETRY_AFTER
