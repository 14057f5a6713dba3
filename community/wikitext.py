"""Reading our templates out of wikitext with mwparserfromhell (never regexes).

Values may hold links, comments or stray whitespace; only their plain text counts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from mwparserfromhell.wikicode import Wikicode


def top_templates(code: Wikicode, name: str) -> list[Any]:
    """The page's top-level ``{{name}}`` templates, however the name is written
    (``Template:`` prefix, underscores, a lower-case first letter)."""
    return [t for t in code.filter_templates(recursive=False) if _named(t, name)]


def template_fields(template: Any) -> dict[str, str]:
    """Field name (lower case) -> plain text; the last of repeated fields wins, as on
    the wiki."""
    fields: dict[str, str] = {}
    for param in template.params:
        text = param.value.strip_code(normalize=True, collapse=True)
        fields[str(param.name).strip().lower()] = " ".join(text.split())
    return fields


def split_list(value: str) -> tuple[str, ...]:
    """A comma-separated field as its items, blanks and repeats left out."""
    items: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return tuple(items)


def field_date(value: str) -> date | None:
    """A date field (YYYY-MM-DD); None when empty. Raises ValueError saying what is wrong."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _named(template: Any, wanted: str) -> bool:
    name = " ".join(str(template.name.strip_code() or template.name).replace("_", " ").split())
    if name.lower().startswith("template:"):
        name = name.split(":", 1)[1].strip()
    # MediaWiki titles are case-insensitive in their first letter only.
    return bool(name) and name[0].upper() + name[1:] == wanted
