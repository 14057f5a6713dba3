"""What the wiki connector returns: pages, revisions, recent changes, edit results.

All timestamps are timezone-aware UTC datetimes. The parsers read MediaWiki's
``formatversion=2`` JSON.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from core.errors import InvalidRequest


@dataclass(frozen=True)
class WikiPage:
    """A page as read: its latest revision's text and the timestamps an edit needs."""

    title: str  # as the wiki names it (normalised)
    exists: bool
    pageid: int | None
    text: str  # "" when the page does not exist
    revid: int | None
    timestamp: datetime | None  # of the latest revision
    start_timestamp: datetime  # the wiki's clock at the read: the edit's starttimestamp


@dataclass(frozen=True)
class WikiRevision:
    revid: int
    parentid: int
    timestamp: datetime
    user: str | None  # None when hidden
    comment: str | None
    size: int
    sha1: str | None
    text: str | None  # only when asked for
    anon: bool = False  # an IP address or temporary account made it (rvprop=user says)


@dataclass(frozen=True)
class WikiChange:
    """One entry of the wiki's recent changes (an edit, a page creation or a log entry)."""

    cursor: str  # pass back to recent_changes() to resume strictly after this change
    rcid: int
    type: str  # edit, new, log, categorize, external
    title: str
    ns: int
    pageid: int
    revid: int
    old_revid: int
    timestamp: datetime
    user: str | None
    comment: str | None
    bot: bool
    minor: bool
    old_size: int | None
    new_size: int | None
    log_type: str | None = None  # move, delete, protect, ... for log entries
    log_action: str | None = None
    log_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class EditResult:
    title: str
    pageid: int
    revid: int | None  # None for a no-change edit without a known base
    timestamp: datetime | None  # of the new revision; None when nothing changed
    nochange: bool
    base_revid: int | None = None  # the revision the edit was made on; None for a new page


def parse_time(value: str) -> datetime:
    """MediaWiki's ISO 8601 timestamp ("2025-01-31T12:00:00Z") as an aware datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


# What the wiki replaces with U+FFFD in every text it is sent (UtfNormal's clean-up).
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def stored_form(text: str) -> str:
    """``text`` as the wiki keeps it: control characters other than tab and line breaks
    replaced, then NFC. The wiki checks an edit's md5 against this form, and a page read
    back is in it, so compare and hash only this form."""
    return unicodedata.normalize("NFC", UNSTORABLE.sub("\ufffd", text))


def format_time(value: datetime) -> str:
    """An aware datetime in the form MediaWiki's API takes."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_cursor(timestamp: datetime, rcid: int) -> str:
    return f"{format_time(timestamp)}|{rcid}"


def read_cursor(cursor: str) -> tuple[datetime, int]:
    """The (timestamp, rcid) of a cursor made by ``make_cursor``."""
    try:
        stamp, rcid = cursor.split("|")
        return parse_time(stamp), int(rcid)
    except ValueError as exc:
        raise InvalidRequest(
            f"not a recent-changes cursor: {cursor!r}", platform="wiki", code="badcursor"
        ) from exc


def page_from(entry: Mapping[str, Any], started: datetime) -> WikiPage:
    title = str(entry["title"])
    if entry.get("invalid"):
        raise InvalidRequest(
            f"invalid title {title!r}: {entry.get('invalidreason', '')}",
            platform="wiki",
            code="invalidtitle",
        )
    revisions = entry.get("revisions") or []
    if entry.get("missing") or not revisions:
        return WikiPage(title, False, None, "", None, None, started)
    latest = revisions[0]
    return WikiPage(
        title=title,
        exists=True,
        pageid=int(entry["pageid"]),
        text=str(latest.get("slots", {}).get("main", {}).get("content", "")),
        revid=int(latest["revid"]),
        timestamp=parse_time(latest["timestamp"]),
        start_timestamp=started,
    )


def revision_from(entry: Mapping[str, Any]) -> WikiRevision:
    text = entry.get("slots", {}).get("main", {}).get("content")
    return WikiRevision(
        revid=int(entry["revid"]),
        parentid=int(entry.get("parentid", 0)),
        timestamp=parse_time(entry["timestamp"]),
        user=entry.get("user"),
        comment=entry.get("comment"),
        size=int(entry.get("size", 0)),
        sha1=entry.get("sha1"),
        text=None if text is None else str(text),
        anon=bool(entry.get("anon") or entry.get("temp")),
    )


def change_from(entry: Mapping[str, Any]) -> WikiChange:
    timestamp = parse_time(entry["timestamp"])
    rcid = int(entry["rcid"])
    return WikiChange(
        cursor=make_cursor(timestamp, rcid),
        rcid=rcid,
        type=str(entry["type"]),
        title=str(entry["title"]),
        ns=int(entry.get("ns", 0)),
        pageid=int(entry.get("pageid", 0)),
        revid=int(entry.get("revid", 0)),
        old_revid=int(entry.get("old_revid", 0)),
        timestamp=timestamp,
        user=entry.get("user"),
        comment=entry.get("comment"),
        bot=bool(entry.get("bot")),
        minor=bool(entry.get("minor")),
        old_size=entry.get("oldlen"),
        new_size=entry.get("newlen"),
        log_type=entry.get("logtype"),
        log_action=entry.get("logaction"),
        log_params=MappingProxyType(_log_params(entry.get("logparams"))),
    )


def _log_params(params: Any) -> dict[str, Any]:
    """A log entry's parameters: an object, or (formatversion=2 writes PHP's lists so)
    an array of positional ones, keyed "0", "1", ... as older entries name them."""
    if isinstance(params, Mapping):
        return dict(params)
    return {str(index): value for index, value in enumerate(params or [])}


def edit_result_from(answer: Mapping[str, Any], base_revid: int | None) -> EditResult:
    nochange = bool(answer.get("nochange"))
    stamp = answer.get("newtimestamp")
    return EditResult(
        title=str(answer["title"]),
        pageid=int(answer["pageid"]),
        revid=int(answer["newrevid"]) if "newrevid" in answer else base_revid,
        timestamp=parse_time(stamp) if stamp else None,
        nochange=nochange,
        base_revid=int(answer["oldrevid"]) if answer.get("oldrevid") else base_revid,
    )


@dataclass(frozen=True)
class PageHead:
    """A page and its latest revision, without the text (a cheap listing)."""

    title: str
    pageid: int
    revid: int
    timestamp: datetime
    user: str | None
