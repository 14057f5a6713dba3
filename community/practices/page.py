"""The ``{{Practice}}`` template on a wiki page, parsed into a practice.

Parsed with mwparserfromhell as charters are (community/constellations/charter.py): values may hold
links or comments, and only their plain text counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import mwparserfromhell

from community.practices.tags import TagError, check_tag
from community.wikitext import split_list, template_fields, top_templates

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
    templates = top_templates(code, TEMPLATE)
    if not templates:
        return None
    if len(templates) > 1:
        raise PracticeError(title, "template", f"{len(templates)} {{{{{TEMPLATE}}}}} templates")
    fields = template_fields(templates[0])
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
        adopted_by=split_list(fields.get("adopted_by", "")),
        related_constellations=split_list(fields.get("related_constellations", "")),
        tag=tag,
        aliases=split_list(fields.get("aliases", "")),
    )
