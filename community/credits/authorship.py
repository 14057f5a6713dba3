"""Who wrote the text that survives on a wiki page (in the spirit of WikiWho).

Wikitext is split into word and punctuation tokens. Walking the revisions oldest first,
each revision is diffed token by token against the one before: kept tokens keep their
author, inserted tokens belong to the revision's author. A revision whose text equals a
recent earlier one (same sha1) is an identity revert and gets that revision's attribution
back exactly, so the reverted words vanish and their original authors get theirs back.

Pure: no I/O. The state is plain JSON (stored in ``WikiAuthorship.state``) so the next
change continues from the last revision instead of the whole history.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any, Protocol

STATE_VERSION = 1
# Identity reverts usually go back a few revisions; 50 bounds the state's size.
REVERT_WINDOW = 50
TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)

# Author runs: [[author or None, count], ...] (run-length, so the state stays small).
Runs = list[list[Any]]


class Revision(Protocol):
    """What authorship needs of a revision (``WikiRevision`` has it)."""

    @property
    def revid(self) -> int: ...
    @property
    def user(self) -> str | None: ...  # None when the user is hidden
    @property
    def sha1(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...  # None when the content is hidden


class AuthorshipError(ValueError):
    """A stored state that is not one this module wrote."""


def tokenise(text: str) -> list[str]:
    """Words and single punctuation marks; whitespace separates but is not a token."""
    return TOKEN.findall(text)


def new_state() -> dict[str, Any]:
    """The state of a page before its first revision."""
    return {
        "version": STATE_VERSION,
        "revid": 0,
        "first_revid": None,
        "creator": None,
        "tokens": [],
        "authors": [],
        "recent": [],  # [[sha1, runs], ...] oldest first, at most REVERT_WINDOW
    }


def advance(state: dict[str, Any], revisions: Iterable[Revision]) -> dict[str, Any]:
    """The state after ``revisions`` (oldest first). Revisions at or before the state's
    revision are skipped, so passing an overlapping range is harmless. Returns a new
    state; the given one is not changed."""
    check_state(state)
    tokens: list[str] = list(state["tokens"])
    authors: list[str | None] = expand(state["authors"])
    recent: list[list[Any]] = [list(item) for item in state["recent"]]
    revid: int = int(state["revid"])
    first_revid, creator = state["first_revid"], state["creator"]
    for revision in revisions:
        if revision.revid <= revid:
            continue
        if first_revid is None:
            first_revid, creator = revision.revid, revision.user
        revid = revision.revid
        if revision.text is None:
            continue  # hidden content: keep the last known attribution
        sha1 = (
            revision.sha1
            or hashlib.sha1(revision.text.encode("utf-8"), usedforsecurity=False).hexdigest()
        )
        restored = next((runs for known, runs in reversed(recent) if known == sha1), None)
        new_tokens = tokenise(revision.text)
        if restored is not None and sum(count for _, count in restored) == len(new_tokens):
            authors = expand(restored)
        else:
            authors = attribute(tokens, authors, new_tokens, revision.user)
        tokens = new_tokens
        recent = [item for item in recent if item[0] != sha1]
        recent.append([sha1, compress(authors)])
        recent = recent[-REVERT_WINDOW:]
    return {
        "version": STATE_VERSION,
        "revid": revid,
        "first_revid": first_revid,
        "creator": creator,
        "tokens": tokens,
        "authors": compress(authors),
        "recent": recent,
    }


def attribute(
    old_tokens: list[str],
    old_authors: list[str | None],
    new_tokens: list[str],
    author: str | None,
) -> list[str | None]:
    """The authors of ``new_tokens``: kept tokens keep theirs, inserted ones get ``author``."""
    authors: list[str | None] = [author] * len(new_tokens)
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for block in matcher.get_matching_blocks():
        authors[block.b : block.b + block.size] = old_authors[block.a : block.a + block.size]
    return authors


def surviving_tokens(state: dict[str, Any]) -> dict[str, int]:
    """Tokens on the page now, per author (hidden users are left out)."""
    check_state(state)
    counts: Counter[str] = Counter()
    for author, count in state["authors"]:
        if author is not None:
            counts[str(author)] += int(count)
    return dict(counts)


def shares(state: dict[str, Any]) -> dict[str, float]:
    """Each author's fraction of all tokens on the page now (hidden users included in
    the total, so shares of named authors may sum to less than 1)."""
    total = sum(int(count) for _, count in state["authors"])
    if not total:
        return {}
    return {author: count / total for author, count in surviving_tokens(state).items()}


def check_state(state: Any) -> None:
    """Raise AuthorshipError unless ``state`` is a state this module wrote."""
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise AuthorshipError(f"not an authorship state of version {STATE_VERSION}")
    missing = {"revid", "tokens", "authors", "recent"} - set(state)
    if missing:
        raise AuthorshipError(f"authorship state lacks {sorted(missing)}")
    if sum(int(count) for _, count in state["authors"]) != len(state["tokens"]):
        raise AuthorshipError("authorship state: authors do not cover the tokens")


def compress(authors: list[str | None]) -> Runs:
    runs: Runs = []
    for author in authors:
        if runs and runs[-1][0] == author:
            runs[-1][1] += 1
        else:
            runs.append([author, 1])
    return runs


def expand(runs: Runs) -> list[str | None]:
    authors: list[str | None] = []
    for author, count in runs:
        authors.extend([author] * int(count))
    return authors
