"""pydiscourse and requests exceptions translated into Constellate's error types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from pydiscourse.exceptions import DiscourseError, DiscourseRateLimitedError

from connectors.discourse.transport import error_messages, rate_limit_wait
from core.errors import (
    ConnectorError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)

PLATFORM = "forum"


@contextmanager
def translated() -> Iterator[None]:
    """Run a forum call; any library error leaves as a ConnectorError subclass."""
    try:
        yield
    except DiscourseRateLimitedError as exc:
        raise _rate_limited(exc.response) from exc
    except DiscourseError as exc:
        raise _from_status(exc.response, str(exc)) from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise Unavailable(f"forum unreachable: {type(exc).__name__}", platform=PLATFORM) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        # The answer was cut off: a write may have been made. Worth retrying, as the
        # callers of writes look first (external ids, a reply looks for itself).
        raise Unavailable(f"forum answer cut off: {exc}", platform=PLATFORM) from exc
    except requests.RequestException as exc:
        raise ConnectorError(f"forum request failed: {exc}", platform=PLATFORM) from exc
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        # pydiscourse indexes into answers (["user"], meta.total) without checking them.
        raise ConnectorError(f"unexpected forum answer: {exc!r}", platform=PLATFORM) from exc


def _rate_limited(response: requests.Response | None) -> RateLimited:
    wait = rate_limit_wait(response) if response is not None else 60.0
    code = response.headers.get("Discourse-Rate-Limit-Error-Code") if response is not None else None
    return RateLimited(
        f"forum rate limit: retry after {wait:.0f} s",
        platform=PLATFORM,
        retry_after=wait,
        code=code,
    )


def _from_status(response: requests.Response | None, message: str) -> ConnectorError:
    status = response.status_code if response is not None else None
    errors = error_messages(response)
    detail = "; ".join(errors) if errors else message
    if status in (401, 403):
        return PermissionDenied(
            f"forum denied access: {detail}", platform=PLATFORM, code=str(status)
        )
    if status in (404, 410):
        return NotFound(f"not found on the forum: {detail}", platform=PLATFORM, code=str(status))
    if status == 429 and response is not None:
        return _rate_limited(response)
    if status is not None and 400 <= status < 500:
        # Permanent: Discourse's own validation messages say what to change.
        return InvalidRequest(
            f"forum rejected the request ({status}): {detail}", platform=PLATFORM, code=str(status)
        )
    if status is not None and status >= 500:
        return Unavailable(f"forum error ({status}): {detail}", platform=PLATFORM, code=str(status))
    # A 2xx/3xx the library could not read (wrong content type, a redirect, an errors list).
    return ConnectorError(f"unexpected forum answer: {detail}", platform=PLATFORM)
