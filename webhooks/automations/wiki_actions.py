"""Rule actions on the wiki: a named bot-owned section of an existing page, and a practice
page stub.

Rules never create a page except a practice stub, and never overwrite one: a section
goes only on a page that exists, a stub only where no page is. The section is written
as Constellate's other sections are (``community.bot_section``): text outside its
markers is never touched, and a person's edit inside is kept above it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from community.bot_section import named_markers, section_hash, write_bot_section
from core import clock
from core.errors import EditConflict, InvalidRequest, NotFound, PermissionDenied
from webhooks.automations.models import NamedSectionState
from webhooks.automations.vocabulary import ActionEnv, ActionError, Outcome

SECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TITLE_FORBIDDEN = "#<>[]|{}"  # characters MediaWiki never allows in a title
TITLE_BYTES = 255


def check_section_name(name: str) -> str:
    if not SECTION_NAME.fullmatch(name):
        raise ActionError(
            f"section {name!r}: a section name has lowercase letters, digits, - and _ "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def check_title(title: str, what: str) -> str:
    """A wiki page title as MediaWiki would keep it (spaces collapsed)."""
    cleaned = " ".join(title.split())
    if not cleaned:
        raise ActionError(f"{what}: the page title is empty")
    bad = sorted({c for c in cleaned if c in TITLE_FORBIDDEN})
    if bad:
        raise ActionError(f"{what} {cleaned!r}: a wiki title may not contain {' '.join(bad)}")
    if len(cleaned.encode()) > TITLE_BYTES:
        raise ActionError(f"{what} {cleaned[:40]!r}…: longer than {TITLE_BYTES} bytes")
    return cleaned


class NamedSectionMemory:
    """What a rule last wrote in the section ``name`` of a page (NamedSectionState)."""

    def __init__(self, session: Session, page_id: int, name: str) -> None:
        self._session = session
        self._key = (page_id, name)

    def written_hash(self) -> str | None:
        state = self._session.get(NamedSectionState, self._key)
        return state.written_hash if state else None

    def remember(self, digest: str) -> None:
        state = self._session.get(NamedSectionState, self._key)
        if state is None:
            page_id, name = self._key
            state = NamedSectionState(page_id=page_id, name=name, written_hash=digest)
            self._session.add(state)
        state.written_hash, state.written_at = digest, clock.now()
        self._session.flush()


def perform_wiki_section(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    title, name, inside = str(params["page"]), str(params["section"]), str(params["text"])
    wiki = env.wiki()
    try:
        page = wiki.read_pages([title])[title]
    except (InvalidRequest, NotFound) as exc:
        raise ActionError(f"wiki page {title!r}: cannot be read: {exc}") from exc
    if not page.exists or page.pageid is None:
        raise ActionError(
            f"wiki page {title!r} does not exist: a rule writes sections only on existing pages"
        )
    memory = NamedSectionMemory(env.session, page.pageid, name)
    summary = str(params.get("summary") or f"Constellate: rule {env.rule}, section {name}")
    try:
        result = write_bot_section(
            env.session,
            wiki,
            title=page.title,
            page_id=page.pageid,
            inside=inside,
            summary=summary,
            page=page,
            markers=named_markers(name),
            memory=memory,
        )
    except PermissionDenied as exc:
        raise ActionError(f"wiki page {page.title!r}: the wiki refused the edit: {exc}") from exc
    if result == "conflict" and memory.written_hash() != section_hash(inside):
        raise ActionError(
            f"wiki page {page.title!r}: kept changing while the section {name} was written"
        )
    objects = (f"page:{page.title}",) if result != "unchanged" or env.retry else ()
    if result == "conflict":
        done = f"wrote section {name} of {page.title}; a person's edit in it was moved above"
    elif result == "written":
        done = f"wrote section {name} of {page.title}"
    else:
        done = f"section {name} of {page.title} already as wanted"
    return Outcome(done, objects)


def practice_text(summary: str, organisation: str) -> str:
    """A new practice page: the ``{{Practice}}`` template, for people to fill in."""
    return (
        "{{Practice\n"
        f"| summary = {' '.join(summary.split())}\n"
        f"| originating_organisation = {' '.join(organisation.split())}\n"
        "| adopted_by = \n"
        "}}\n"
    )


def perform_practice_stub(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    title, text = str(params["title"]), str(params["text"])
    summary = f"Constellate: practice page started by rule {env.rule}"
    wiki = env.wiki()
    try:
        result = wiki.edit(title, text, summary=summary, mode="create")
    except EditConflict:
        if wiki.read_pages([title])[title].exists:
            # On a retry the page may be an earlier attempt's: still this rule's doing.
            objects = (f"page:{title}",) if env.retry else ()
            return Outcome(f"practice page {title} exists already: left alone", objects)
        raise
    except (PermissionDenied, InvalidRequest) as exc:
        raise ActionError(f"practice page {title!r}: the wiki refused it: {exc}") from exc
    return Outcome(f"created practice page {result.title}", (f"page:{result.title}",))
