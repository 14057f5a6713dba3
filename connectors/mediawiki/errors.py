"""mwclient, requests and MediaWiki API errors translated into Constellate's error types.

The table maps MediaWiki API error codes to our classes, in the manner of
pywikibot; ``translate`` handles every exception the libraries raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import mwclient.errors as mw
import requests

from core import clock
from core.errors import (
    ConnectorError,
    EditConflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unavailable,
)

PLATFORM = "wiki"
# When the wiki does not say how long to wait after `ratelimited` or HTTP 429.
DEFAULT_RATE_LIMIT_WAIT = 60.0

ERROR_CLASSES: dict[str, type[ConnectorError]] = {
    # Someone else changed the page between our read and our write.
    "editconflict": EditConflict,
    "articleexists": EditConflict,
    "pagedeleted": EditConflict,
    # The object is gone.
    "missingtitle": NotFound,
    "nosuchrevid": NotFound,
    "nosuchpageid": NotFound,
    "nosuchuser": NotFound,
    "nosuchlogid": NotFound,
    "nosuchsection": NotFound,
    # The account may not do this; retrying as the same account will not help.
    "protectedpage": PermissionDenied,
    "protectedtitle": PermissionDenied,
    "protectednamespace": PermissionDenied,
    "protectednamespace-interface": PermissionDenied,
    "cascadeprotected": PermissionDenied,
    "customcssjsprotected": PermissionDenied,
    "permissiondenied": PermissionDenied,
    "assertuserfailed": PermissionDenied,
    "assertbotfailed": PermissionDenied,
    "assertnameduserfailed": PermissionDenied,
    "blocked": PermissionDenied,
    "autoblocked": PermissionDenied,
    "readapidenied": PermissionDenied,
    "writeapidenied": PermissionDenied,
    "noapiwrite": PermissionDenied,
    "notloggedin": PermissionDenied,
    "noedit": PermissionDenied,
    "noedit-anon": PermissionDenied,
    "cantcreate": PermissionDenied,
    "cantcreate-anon": PermissionDenied,
    "mwoauth-invalid-authorization": PermissionDenied,
    "abusefilter-disallowed": PermissionDenied,
    # The wiki cannot serve us right now.
    "maxlag": Unavailable,
    "readonly": Unavailable,
    # The request itself is wrong.
    "badtoken": InvalidRequest,
    "invalidtitle": InvalidRequest,
    "badvalue": InvalidRequest,
    "missingparam": InvalidRequest,
    "paramempty": InvalidRequest,
    "invalidparammix": InvalidRequest,
    "badinteger": InvalidRequest,
    "badtimestamp": InvalidRequest,
    "badmd5": InvalidRequest,
    "contenttoobig": InvalidRequest,
    "spamdetected": InvalidRequest,
    "mustbeposted": InvalidRequest,
    "unknown_action": InvalidRequest,
    "toomanyvalues": InvalidRequest,
}

# Database trouble on the wiki's side is worth retrying later.
UNAVAILABLE_PREFIXES = ("internal_api_error_DB", "internal_api_error_ReadOnlyError")


def from_api_error(
    code: str | None,
    info: str,
    *,
    rate_limit_wait: Callable[[], float] | None = None,
    retry_after: float | None = None,
) -> ConnectorError:
    """The error for a MediaWiki API error ``code``; ``rate_limit_wait`` asks the wiki."""
    message = f"{code}: {info}" if code else info
    if code == "ratelimited":
        wait = rate_limit_wait() if rate_limit_wait else DEFAULT_RATE_LIMIT_WAIT
        return RateLimited(message, platform=PLATFORM, retry_after=wait, code=code)
    if code and code.startswith("badid_"):  # MediaWiki's "no such id" for a parameter
        return NotFound(message, platform=PLATFORM, code=code)
    if code and code.startswith(UNAVAILABLE_PREFIXES):
        return Unavailable(message, platform=PLATFORM, retry_after=retry_after, code=code)
    cls = ERROR_CLASSES.get(code or "", ConnectorError)
    if cls is Unavailable:
        return Unavailable(message, platform=PLATFORM, retry_after=retry_after, code=code)
    return cls(message, platform=PLATFORM, code=code)


def translate(
    exc: BaseException,
    *,
    last_response: requests.Response | None = None,
    rate_limit_wait: Callable[[], float] | None = None,
) -> ConnectorError | None:
    """Our error for a library exception, or None when ``exc`` is not one of theirs.

    ``last_response`` is the wiki's latest HTTP answer (for Retry-After after retries).
    """
    if isinstance(exc, mw.APIError):
        return from_api_error(
            exc.code,
            str(exc.info),
            rate_limit_wait=rate_limit_wait,
            retry_after=retry_after(last_response),
        )
    if isinstance(exc, mw.MaximumRetriesExceeded):
        # mwclient gives up after waiting out maxlag (or DB errors) max_retries times.
        lagged = last_response is not None and "X-Database-Lag" in last_response.headers
        return Unavailable(
            "the wiki stayed lagged or failing after every retry",
            platform=PLATFORM,
            retry_after=retry_after(last_response),
            code="maxlag" if lagged else "maxretries",
        )
    if isinstance(exc, mw.LoginError):
        return PermissionDenied(
            f"login failed: {exc.info}", platform=PLATFORM, code=f"login-{exc.code}".lower()
        )
    if isinstance(exc, mw.ProtectedPageError):
        return PermissionDenied(str(exc), platform=PLATFORM, code=exc.code or "protectedpage")
    if isinstance(exc, mw.AssertUserFailedError):
        return PermissionDenied(str(exc), platform=PLATFORM, code="assertuserfailed")
    if isinstance(exc, mw.InsufficientPermission):
        return PermissionDenied(str(exc), platform=PLATFORM, code="permissiondenied")
    if isinstance(exc, mw.EditError):
        # mwclient raises a bare EditError for `editconflict`.
        return EditConflict(str(exc), platform=PLATFORM, code="editconflict")
    if isinstance(exc, mw.InvalidResponse):
        return Unavailable(
            "the wiki answered with something that is not JSON",
            platform=PLATFORM,
            code="invalidresponse",
        )
    if isinstance(exc, mw.InvalidPageTitle):
        return InvalidRequest(str(exc), platform=PLATFORM, code="invalidtitle")
    if isinstance(exc, mw.MwClientError):
        return ConnectorError(f"{type(exc).__name__}: {exc}", platform=PLATFORM)
    if isinstance(exc, requests.HTTPError):
        return _from_http_status(exc.response, str(exc))
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return Unavailable(f"wiki unreachable: {type(exc).__name__}", platform=PLATFORM)
    if isinstance(exc, requests.RequestException):
        return ConnectorError(f"wiki request failed: {exc}", platform=PLATFORM)
    return None


def _from_http_status(response: requests.Response | None, message: str) -> ConnectorError:
    status = response.status_code if response is not None else None
    code = f"http-{status}" if status else None
    if status == 429:
        wait = retry_after(response)
        wait = DEFAULT_RATE_LIMIT_WAIT if wait is None else wait
        return RateLimited(message, platform=PLATFORM, retry_after=wait, code=code)
    if status in (401, 403):
        return PermissionDenied(message, platform=PLATFORM, code=code)
    if status is not None and status >= 500:
        return Unavailable(message, platform=PLATFORM, retry_after=retry_after(response), code=code)
    # A 404 means api.php is not where the configuration says, not a missing page.
    return InvalidRequest(message, platform=PLATFORM, code=code)


def retry_after(response: requests.Response | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), if there is one."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def rate_limit_wait(ratelimits: Mapping[str, Any], action: str) -> float:
    """Seconds per allowed hit for ``action`` (the slowest limit that applies to us)."""
    limits = ratelimits.get(action) or {}
    waits = [
        float(limit["seconds"]) / float(limit["hits"])
        for limit in limits.values()
        if limit.get("hits") and limit.get("seconds")
    ]
    return max(waits) if waits else DEFAULT_RATE_LIMIT_WAIT
