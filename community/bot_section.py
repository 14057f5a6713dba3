"""The bot-owned section of a wiki page: the text between Constellate's markers.

Constellation pages and practice pages each carry one such section; what goes inside is
rendered by their own modules, and written here. The text outside the markers is never
changed. A person's edit inside the markers (seen as an inside text whose hash is not the
one we last wrote) is moved just above the section under a short note, so no one's words
are lost.

Automation rules write *named* sections (``<!-- constellate:NAME:begin -->``) the same
way: other markers, and the hash kept in a place of their own (a ``SectionMemory``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from connectors.mediawiki import EditResult, WikiClient
from connectors.mediawiki.records import WikiPage, stored_form
from core import clock
from core.errors import EditConflict
from core.models import Base, UTCDateTime

BEGIN = "<!-- constellate:begin -->"
END = "<!-- constellate:end -->"
MOVED_NOTE = (
    "''The text below was edited inside the section that Constellate maintains; "
    "it was moved here so that it is kept. Please merge or remove it.''"
)
# Characters that would become markup in titles and names; shown as entities instead.
ESCAPES = {c: f"&#{ord(c)};" for c in "&<>[]{}|'=~*#:;_"}


@dataclass(frozen=True)
class Markers:
    """The comments that open and close a bot-owned section."""

    begin: str
    end: str


PAGE_MARKERS = Markers(BEGIN, END)


def named_markers(name: str) -> Markers:
    """The markers of the section called ``name`` (a rule's ``wiki_section``)."""
    return Markers(f"<!-- constellate:{name}:begin -->", f"<!-- constellate:{name}:end -->")


class WikiSectionState(Base):
    """The hash of the section text last written inside the page markers of a page
    (its table came with migration 0006, beside the leadership timeline).

    A current inside text with another hash means a person edited the section.
    """

    __tablename__ = "wiki_section_states"

    page_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    written_hash: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class SectionMemory(Protocol):
    """Where the hash of what we last wrote inside one section of one page is kept."""

    def written_hash(self) -> str | None: ...

    def remember(self, digest: str) -> None: ...


class PageSectionMemory:
    """The page's one unnamed section: ``WikiSectionState`` by page id."""

    def __init__(self, session: Session, page_id: int) -> None:
        self._session = session
        self._page_id = page_id

    def written_hash(self) -> str | None:
        state = self._session.get(WikiSectionState, self._page_id)
        return state.written_hash if state else None

    def remember(self, digest: str) -> None:
        state = self._session.get(WikiSectionState, self._page_id)
        if state is None:
            self._session.add(
                WikiSectionState(page_id=self._page_id, written_hash=digest, written_at=clock.now())
            )
        elif state.written_hash != digest:
            state.written_hash = digest
            state.written_at = clock.now()
        self._session.flush()


def write_bot_section(
    session: Session,
    wiki: WikiClient,
    *,
    title: str,
    page_id: int,
    inside: str,
    summary: str,
    dry_run: bool = False,
    page: WikiPage | None = None,
    markers: Markers = PAGE_MARKERS,
    memory: SectionMemory | None = None,
    on_saved: Callable[[EditResult], None] | None = None,
) -> str:
    """Write ``inside`` between the markers of the page: "written", "unchanged" or
    "conflict".

    ``page``, when the caller already read it (a batched sync), saves a read when the
    section is unchanged; a write still goes through ``apply``, which reads afresh.
    ``markers`` and ``memory`` default to the page's one unnamed section. ``on_saved``
    is given the edit when one is saved (the revision it made, and the one it was made on).

    "conflict": a person's edit inside the markers was moved above them, or the page
    kept changing under us for three tries (nothing written; the next sync retries).
    """
    inside = stored_form(inside)  # as the wiki will keep it, so a rewrite compares equal
    memory = memory or PageSectionMemory(session, page_id)
    written_hash = memory.written_hash()
    outcome: dict[str, str] = {}

    def transform(page: WikiPage) -> str | None:
        # A deleted page is not recreated; a title now held by another page is left alone.
        if not page.exists or page.pageid != page_id:
            outcome["action"] = "unchanged"
            return None
        text, conflict = replace_section(page.text, inside, written_hash, markers)
        outcome["action"] = "conflict" if conflict else "written"
        return None if text == page.text else text

    if page is None or dry_run:
        page = page or wiki.read_pages([title])[title]
    new_text = transform(page)
    changed = new_text is not None and new_text.rstrip() != page.text.rstrip()
    if dry_run:
        return outcome["action"] if changed else "unchanged"
    if not changed:
        if outcome.get("action") == "written":
            memory.remember(section_hash(inside))
        return "unchanged"
    try:
        result = wiki.apply(title, transform, summary=summary, attempts=3)
    except EditConflict:  # still edited by others after three tries: next sync retries
        return "conflict"
    if result is None:
        # Nothing to write; still remember the section as ours when the page has it, so
        # a lost state does not turn the next person's edit into a false conflict.
        if outcome.get("action") == "written":
            memory.remember(section_hash(inside))
        return "unchanged"
    memory.remember(section_hash(inside))
    if on_saved is not None:
        on_saved(result)
    return outcome["action"]


def replace_section(
    text: str, inside: str, written_hash: str | None, markers: Markers = PAGE_MARKERS
) -> tuple[str, bool]:
    """The page text with ``inside`` between the markers, and whether a person's edit
    inside them was moved above the section."""
    body = f"\n{inside}\n"
    begin = text.rfind(markers.begin)
    end = text.find(markers.end, begin) if begin >= 0 else -1
    if begin < 0 or end < 0:
        separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return f"{text}{separator}{markers.begin}{body}{markers.end}", False
    current = text[begin + len(markers.begin) : end]
    before, after = text[:begin], text[end:]
    if _is_ours(current, inside, written_hash):
        return f"{before}{markers.begin}{body}{after}", False
    moved = f"{MOVED_NOTE}\n{current.strip()}\n\n"
    return f"{before}{moved}{markers.begin}{body}{after}", True


def section_hash(inside: str) -> str:
    return hashlib.sha256(stored_form(inside).strip().encode()).hexdigest()


def escape(value: str) -> str:
    """Plain text that the wiki shows as it is (no links, templates or signatures)."""
    return "".join(ESCAPES.get(c, c) for c in " ".join(value.split()))


def _is_ours(current: str, inside: str, written_hash: str | None) -> bool:
    if current.strip() in ("", inside.strip()):
        return True
    return written_hash is not None and section_hash(current) == written_hash
