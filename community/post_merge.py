"""Three-way merge of the charter post (merge3, line by line)."""

from __future__ import annotations

import merge3


def merge_post(base: str, ours: str, theirs: str) -> str | None:
    """``ours`` (the new render) and ``theirs`` (the forum post) merged against ``base``.

    None when both changed the same lines differently: a person must decide.
    """
    merger = merge3.Merge3(_lines(base), _lines(ours), _lines(theirs))
    merged: list[str] = []
    for group in merger.merge_groups():
        if group[0] == "conflict":
            return None
        merged.extend(group[1])
    return "".join(merged).rstrip()


def _lines(text: str) -> list[str]:
    # Discourse trims a post's trailing whitespace: compare texts that all end alike.
    return (text.strip() + "\n").splitlines(keepends=True)
