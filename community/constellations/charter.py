"""The ``{{Constellation}}`` template on a wiki page, parsed into a charter.

Wikitext is parsed with mwparserfromhell (never regexes): values may hold
links, comments or stray whitespace, and only the plain text counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import mwparserfromhell

from community.wikitext import field_date, split_list, template_fields, top_templates

STATUSES = ("forming", "active", "dormant", "sunset")
BEATS = ("weekly", "fortnightly", "monthly")
BEAT_DAYS = {"weekly": 7, "fortnightly": 14, "monthly": 30}  # a beat's length
TEMPLATE = "Constellation"
REQUIRED = ("goal", "lead_partner", "partners")
# The template's own defaults when a field is absent or empty.
DEFAULT_STATUS = "forming"
DEFAULT_BEAT = "monthly"


@dataclass(frozen=True)
class Charter:
    title: str
    goal: str
    lead_partner: str
    partners: tuple[str, ...]
    stewards: tuple[str, ...]
    status: str
    started: date | None
    term_end: date | None
    beat: str
    forum_category: str
    # Since when the lead partner leads: from the page's revision history (the leadership
    # timeline), not from the template; None until the timeline is read.
    lead_since: date | None = None


class CharterError(ValueError):
    """A malformed ``{{Constellation}}``: which page, which field, what is wrong."""

    def __init__(self, title: str, field: str, problem: str) -> None:
        self.title = title
        self.field = field
        self.problem = problem
        super().__init__(f"{title}: {field}: {problem}")


def parse_charter(title: str, wikitext: str) -> Charter | None:
    """The page's charter; None when it has no ``{{Constellation}}``.

    Raises CharterError when the template is malformed (a required field
    missing, an unknown status or beat, a bad date, two templates …).
    """
    code = mwparserfromhell.parse(wikitext or "")
    templates = top_templates(code, TEMPLATE)
    if not templates:
        return None
    if len(templates) > 1:
        raise CharterError(title, "template", f"{len(templates)} {{{{{TEMPLATE}}}}} templates")
    fields = template_fields(templates[0])
    for name in REQUIRED:
        if not fields.get(name):
            raise CharterError(title, name, "missing")
    partners = split_list(fields["partners"])
    if not partners:
        raise CharterError(title, "partners", "no organisation named")
    status = (fields.get("status") or DEFAULT_STATUS).lower()
    if status not in STATUSES:
        raise CharterError(
            title, "status", f"unknown status {status!r} (one of {', '.join(STATUSES)})"
        )
    beat = (fields.get("beat") or DEFAULT_BEAT).lower()
    if beat not in BEATS:
        raise CharterError(title, "beat", f"unknown beat {beat!r} (one of {', '.join(BEATS)})")
    started = _date(title, "started", fields.get("started", ""))
    term_end = _date(title, "term_end", fields.get("term_end", ""))
    if started and term_end and term_end < started:
        raise CharterError(title, "term_end", f"{term_end.isoformat()} is before started")
    return Charter(
        title=title,
        goal=fields["goal"],
        lead_partner=fields["lead_partner"],
        partners=partners,
        stewards=split_list(fields.get("stewards", "")),
        status=status,
        started=started,
        term_end=term_end,
        beat=beat,
        forum_category=fields.get("forum_category", ""),
    )


def charter_record(charter: Charter) -> dict[str, Any]:
    """The charter as JSON, kept on the page's link for readers that must not call the
    wiki (health metrics, the dashboard)."""
    return {
        "title": charter.title,
        "goal": charter.goal,
        "lead_partner": charter.lead_partner,
        "partners": list(charter.partners),
        "stewards": list(charter.stewards),
        "status": charter.status,
        "started": charter.started.isoformat() if charter.started else None,
        "term_end": charter.term_end.isoformat() if charter.term_end else None,
        "beat": charter.beat,
        "forum_category": charter.forum_category,
    }


def page_url(settings: Any, title: str) -> str:
    """A link back to the wiki page (``index.php?title=…``, as MediaWiki writes it)."""
    wiki = settings["wiki"]
    base = str(wiki.get("url", "")).rstrip("/")
    script = str(wiki.get("script_path", "/")).strip("/")
    prefix = f"{base}/{script}" if script else base
    return f"{prefix}/index.php?title={quote(title.replace(' ', '_'), safe=':/()_,')}"


def _date(title: str, field: str, value: str) -> date | None:
    try:
        return field_date(value)
    except ValueError as error:
        raise CharterError(title, field, str(error)) from None
