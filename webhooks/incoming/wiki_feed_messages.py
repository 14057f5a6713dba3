"""One message of the wiki's recent-changes feed -> a hint, or the reason it is refused.

Pure: no network, no store. A hint names a change (its recent-changes id, title, type and
second); it is never recorded as it is, only looked up in the wiki's API (``wiki_feed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import schemas
from connectors.mediawiki.feed import MAX_MESSAGE_BYTES

# The rc types MediaWiki's feed sends (it never sends "external" ones).
KNOWN_TYPES = frozenset({"edit", "new", "log", "categorize"})

# Why a message is refused: the counter's outcome label, in the order they are checked.
OVERSIZED = "oversized"
NOT_JSON = "not_json"
BAD_FIELDS = "bad_fields"
OTHER_WIKI = "other_wiki"
UNKNOWN_TYPE = "unknown_type"


@dataclass(frozen=True)
class Hint:
    """A change the feed says happened: to be confirmed by the API before anything."""

    rcid: int
    type: str
    title: str
    timestamp: datetime  # to the second, as the recent-changes table keeps it


@dataclass(frozen=True)
class Refusal:
    reason: str  # one of the constants above
    detail: str


@dataclass(frozen=True)
class WikiIdentity:
    """How the wiki names itself in each message (siteinfo's servername and wikiid)."""

    server_name: str
    wiki: str


def read_hint(raw: bytes, wiki: WikiIdentity) -> Hint | Refusal:
    """The hint in ``raw``, or why it is not one of this wiki's changes."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Refusal(OVERSIZED, f"more than {MAX_MESSAGE_BYTES} bytes")
    try:
        body: Any = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError included
        return Refusal(NOT_JSON, str(exc))
    problem = next(iter(schemas.validator("wiki/feed_message").iter_errors(body)), None)
    if problem is not None:
        return Refusal(BAD_FIELDS, f"{problem.json_path}: {problem.message}")
    sender = WikiIdentity(body["server_name"], body["wiki"])
    if sender != wiki:
        return Refusal(OTHER_WIKI, f"from {sender.server_name} ({sender.wiki})")
    if body["type"] not in KNOWN_TYPES:
        return Refusal(UNKNOWN_TYPE, repr(body["type"])[:80])
    return Hint(
        rcid=body["id"],
        type=body["type"],
        title=body["title"],
        timestamp=datetime.fromtimestamp(body["timestamp"], UTC),
    )
