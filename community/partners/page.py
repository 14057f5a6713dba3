"""The ``{{Partner}}`` template on a wiki page, parsed into a partner page.

Parsed with mwparserfromhell as charters are (community/constellations/charter.py):
values may hold links or comments, and only their plain text counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import mwparserfromhell

from community.wikitext import field_date, template_fields, top_templates

TEMPLATE = "Partner"
REQUIRED = ("name", "forum_group")
# Discourse group names: letters, digits, dots, dashes and underscores, starting with a
# letter, digit or underscore, at most 20 characters (the default max_username_length)
# and at least 3 (groups share the username rules).
GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{2,19}")


@dataclass(frozen=True)
class PartnerPage:
    title: str
    name: str
    short_name: str | None
    forum_group: str
    website: str | None
    joined: date | None

    def names(self) -> tuple[str, ...]:
        """Every name a constellation or practice page may call the partner by."""
        return tuple(n for n in (self.name, self.short_name, self.forum_group) if n)


class PartnerError(ValueError):
    """A malformed ``{{Partner}}``: which page, which field, what is wrong."""

    def __init__(self, title: str, field: str, problem: str) -> None:
        self.title = title
        self.field = field
        self.problem = problem
        super().__init__(f"{title}: {field}: {problem}")


def parse_partner(title: str, wikitext: str) -> PartnerPage | None:
    """The page's partner; None when it has no ``{{Partner}}``.

    Raises PartnerError for two templates, a missing name or forum group, a group name
    Discourse would refuse, a website that is not an http(s) address or a bad date.
    """
    code = mwparserfromhell.parse(wikitext or "")
    templates = top_templates(code, TEMPLATE)
    if not templates:
        return None
    if len(templates) > 1:
        raise PartnerError(title, "template", f"{len(templates)} {{{{{TEMPLATE}}}}} templates")
    fields = template_fields(templates[0])
    for name in REQUIRED:
        if not fields.get(name):
            raise PartnerError(title, name, "missing")
    group = fields["forum_group"]
    if not GROUP_NAME.fullmatch(group):
        raise PartnerError(
            title,
            "forum_group",
            f"{group!r} is not a forum group name (3 to 20 letters, digits, dots, dashes "
            "or underscores)",
        )
    return PartnerPage(
        title=title,
        name=fields["name"],
        short_name=fields.get("short_name") or None,
        forum_group=group,
        website=_website(title, fields.get("website", "")),
        joined=_date(title, "joined", fields.get("joined", "")),
    )


def _website(title: str, value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PartnerError(title, "website", f"not a web address: {value!r}")
    return parts.geturl()[:255]


def _date(title: str, field: str, value: str) -> date | None:
    try:
        return field_date(value)
    except ValueError as error:
        raise PartnerError(title, field, str(error)) from None
