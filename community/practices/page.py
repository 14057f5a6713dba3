"""The ``{{Practice}}`` template on a wiki page, parsed into a practice.

Parsed with mwparserfromhell as charters are (community/charter.py): values may hold
links or comments, and only their plain text counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mwparserfromhell

from community.practices.tags import TagError, check_tag

TEMPLATE = "Practice"
REQUIRED = ("summary", "originating_organisation")


@dataclass(frozen=True)
class PracticePage:
    title: str
    summary: str
    originating_organisation: str
    adopted_by: tuple[str, ...]
    related_constellations: tuple[str, ...]
    tag: str | None  # the explicit forum tag, when the page names one
    aliases: tuple[str, ...]


class PracticeError(ValueError):
    """A malformed ``{{Practice}}``: which page, which field, what is wrong."""

    def __init__(self, title: str, field: str, problem: str) -> None:
        self.title = title
        self.field = field
        self.problem = problem
        super().__init__(f"{title}: {field}: {problem}")


def parse_practice(title: str, wikitext: str, *, max_tag_length: int = 20) -> PracticePage | None:
    """The page's practice; None when it has no ``{{Practice}}``.

    Raises PracticeError for two templates, a missing required field or an explicit tag
    that is not a valid forum tag.
    """
    code = mwparserfromhell.parse(wikitext or "")
    templates = [t for t in code.filter_templates(recursive=False) if _is_practice(t)]
    if not templates:
        return None
    if len(templates) > 1:
        raise PracticeError(title, "template", f"{len(templates)} {{{{{TEMPLATE}}}}} templates")
    fields = _fields(templates[0])
    for name in REQUIRED:
        if not fields.get(name):
            raise PracticeError(title, name, "missing")
    tag = fields.get("tag") or None
    if tag is not None:
        try:
            check_tag(tag, max_length=max_tag_length)
        except TagError as error:
            raise PracticeError(title, "tag", str(error)) from None
    return PracticePage(
        title=title,
        summary=fields["summary"],
        originating_organisation=fields["originating_organisation"],
        adopted_by=_split(fields.get("adopted_by", "")),
        related_constellations=_split(fields.get("related_constellations", "")),
        tag=tag,
        aliases=_split(fields.get("aliases", "")),
    )


def _is_practice(template: Any) -> bool:
    name = " ".join(str(template.name.strip_code() or template.name).replace("_", " ").split())
    if name.lower().startswith("template:"):
        name = name.split(":", 1)[1].strip()
    # MediaWiki titles are case-insensitive in their first letter only.
    return bool(name) and name[0].upper() + name[1:] == TEMPLATE


def _fields(template: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for param in template.params:
        text = param.value.strip_code(normalize=True, collapse=True)
        fields[str(param.name).strip().lower()] = " ".join(text.split())  # the last one wins
    return fields


def _split(value: str) -> tuple[str, ...]:
    items: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return tuple(items)
