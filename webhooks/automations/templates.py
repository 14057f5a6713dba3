"""Text templates of rule actions: ``{{placeholder}}`` replaced by a fact, nothing else.

No expressions, filters or code: a placeholder is a fact's name. A value from people
(a title, a username, a post) is escaped for where it goes, so it shows as text and
cannot become markup, a link or a mention; values Constellate made itself (URLs,
its own Markdown lists) are ``Trusted`` and go in as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from webhooks.automations.vocabulary import ActionError

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
TARGETS = ("markdown", "wikitext", "plain")
# Backslash escapes for what Markdown (and Discourse's @mentions, #hashtags) would read.
MARKDOWN_SPECIAL = frozenset("\\`*_[]<>#@|~!")
WIKITEXT_ESCAPES = {c: f"&#{ord(c)};" for c in "&<>[]{}|'=~*#:;_"}


class Trusted(str):
    """Text Constellate made (a URL, its own Markdown): inserted without escaping."""

    __slots__ = ()


class TemplateError(ActionError):
    """A template naming facts this event does not have, or something that is not a
    placeholder at all."""

    def __init__(self, missing: tuple[str, ...] = (), invalid: tuple[str, ...] = ()) -> None:
        self.missing = missing
        self.invalid = invalid
        parts = []
        if missing:
            parts.append("missing placeholder(s): " + ", ".join(missing))
        if invalid:
            parts.append("not a placeholder: " + ", ".join(f"{{{{{x}}}}}" for x in invalid))
        super().__init__("; ".join(parts))


def placeholders(text: str) -> tuple[set[str], set[str]]:
    """(the placeholder names in ``text``, the ``{{…}}`` that are not valid names)."""
    names: set[str] = set()
    invalid: set[str] = set()
    for match in PLACEHOLDER.finditer(text):
        inner = match.group(1)
        (names if NAME.match(inner) else invalid).add(inner)
    return names, invalid


def render(text: str, facts: Mapping[str, Any], *, target: str) -> str:
    """``text`` with every placeholder replaced by its fact, escaped for ``target``.

    Raises TemplateError naming every missing or invalid placeholder at once.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown template target {target!r}")
    names, invalid = placeholders(text)
    missing = sorted(name for name in names if name not in facts)
    if missing or invalid:
        raise TemplateError(tuple(missing), tuple(sorted(invalid)))

    def fill(match: re.Match[str]) -> str:
        return _escaped(facts[match.group(1)], target)

    return PLACEHOLDER.sub(fill, text)


def render_value(value: Any, facts: Mapping[str, Any]) -> Any:
    """A template inside a structure (lists and mappings of strings, as in a webhook's
    data): strings rendered as plain text, the rest kept."""
    if isinstance(value, str):
        return render(value, facts, target="plain")
    if isinstance(value, list):
        return [render_value(item, facts) for item in value]
    if isinstance(value, Mapping):
        return {key: render_value(item, facts) for key, item in value.items()}
    return value


def text_of(value: Any) -> str:
    """A fact as text: lists joined with commas, yes/no, numbers without noise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(text_of(item) for item in value)
    return str(value)


def _escaped(value: Any, target: str) -> str:
    if isinstance(value, Trusted) or target == "plain":
        return str(value) if isinstance(value, Trusted) else text_of(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_escaped(item, target) for item in value)
    text = text_of(value)
    if target == "wikitext":
        return "".join(WIKITEXT_ESCAPES.get(c, c) for c in text)
    return escape_markdown(text)


def escape_markdown(text: str) -> str:
    """People's words shown as they are in a forum post (no markup, links or mentions)."""
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in text)
