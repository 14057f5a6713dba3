"""Which organisations adopted which practice: from the page's ``{{Practice}}`` template
and from the explicit "adopt" action.

Adoption by an organisation other than the one the practice came from is what the
partnership exists for, so each such adoption is recorded once as a
``community.practice_adopted`` event (it feeds credit and health); an adoption withdrawn
and listed again is a new event, and a withdrawal cancels the adoption's credit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import mwparserfromhell
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape
from community.credits.forum_credit import cancel_adoption_credit
from community.partners.names import Organisations
from community.practices.adopters import adoptions_of, normalise
from community.practices.models import Practice, PracticeAdoption
from community.practices.page import TEMPLATE
from community.practices.section import refresh_practice_section
from community.wikitext import top_templates
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiPage
from core import clock, event_kinds, inbox
from core.errors import ConstellateError
from core.events import Event
from core.store import dialect_insert

FIELD = "adopted_by"
SUMMARY = "Constellate: {organisation} adopted this practice"
MAX_EVENT_ID = 128


class AdoptionError(ConstellateError):
    """An adoption that cannot be made: the message says which practice and why."""


def sync_template_adoptions(
    session: Session,
    practice: Practice,
    adopted_by: Sequence[str],
    *,
    revid: int,
    at: datetime,
    actor: str | None,
) -> list[PracticeAdoption]:
    """Make the stored template adoptions match the page's ``adopted_by``.

    New partners become adoptions (source "template"), by the partner's name however the
    page wrote it; names of no registered partner are left out (the page's sync issue
    names them). Partners no longer in the template are withdrawn (``withdrawn_at``),
    never deleted, and an adoption made by the "adopt" action stays. Returns the
    adoptions new to the store; replays return none. ``actor`` is the wiki user whose
    revision listed them.
    """
    partners = Organisations.read(session)
    wanted: dict[str, str] = {}
    for name in adopted_by:
        if partners.known(name):
            shown = partners.canonical(name)
            wanted.setdefault(normalise(shown), shown)
    stored = {
        normalise(partners.canonical(row.organisation)): row
        for row in adoptions_of(session, practice.page_id)
    }
    new: list[PracticeAdoption] = []
    for key, shown in wanted.items():
        row = stored.get(key)
        if row is None:
            added = _insert(
                session, practice, shown, source="template", revid=revid, at=at, actor=actor
            )
            if added is not None:
                new.append(added)
        elif row.withdrawn_at is not None:
            # Listed again: the adoption stands once more (not new to the store), and is
            # credited again through an event of this revision.
            row.withdrawn_at = None
            row.source, row.revid, row.actor = "template", revid, actor
            _record_event(session, practice, row, at=at, again=str(revid))
    for key, row in stored.items():
        if key not in wanted and row.source == "template" and row.withdrawn_at is None:
            row.withdrawn_at = at
            _withdraw_credit(session, practice, row, revid=revid, at=at)
    session.flush()
    return new


def adopt(
    session: Session,
    wiki: WikiClient,
    settings: Any,
    *,
    practice_title: str,
    organisation: str,
    actor: str | None,
) -> str:
    """The explicit "adopt" action: list ``organisation`` in the practice page's
    ``adopted_by`` (nothing written when it is already there) and store the adoption.

    Returns "adopted" or "already adopted". Raises AdoptionError for an unknown
    practice, an unusable organisation name or a page without ``{{Practice}}``.
    """
    shown = " ".join(organisation.split())
    check_organisation(shown)
    partners = Organisations.read(session)
    if not partners.known(shown):
        raise AdoptionError(f"organisation {shown!r}: not a registered partner")
    shown = partners.canonical(shown)
    practice = find_practice(session, practice_title)
    key = normalise(shown)
    current = {normalise(r.organisation): r for r in adoptions_of(session, practice.page_id)}
    row = current.get(key)
    if row is not None and row.withdrawn_at is None:
        return "already adopted"

    def listed(page: WikiPage) -> str | None:
        if not page.exists:
            raise AdoptionError(f"practice {practice.title!r}: the wiki page is gone")
        return add_to_template(practice.title, page.text, shown)

    session.commit()  # no write lock held while the wiki answers
    result = wiki.apply(practice.title, listed, summary=SUMMARY.format(organisation=shown))
    revid = result.revid if result is not None else None
    at = clock.now()
    if row is not None:  # withdrawn before: it stands again, as an action now
        row.withdrawn_at, row.source, row.actor, row.revid = None, "action", actor, revid
        _record_event(session, practice, row, at=at, again=str(revid or at.isoformat()))
        session.flush()
        _show(session, wiki, settings, practice)
        return "adopted"
    added = _insert(session, practice, shown, source="action", revid=revid, at=at, actor=actor)
    _show(session, wiki, settings, practice)
    # None: a concurrent page sync stored it first, from the template we just wrote.
    return "adopted" if added is not None else "already adopted"


def _show(session: Session, wiki: WikiClient, settings: Any, practice: Practice) -> None:
    """Rewrite the practice page's section (our own wiki edit is dropped as an echo, so
    no page sync would do it)."""
    refresh_practice_section(session, wiki, settings, practice)


# -- the template ---------------------------------------------------------------------


def add_to_template(title: str, wikitext: str, organisation: str) -> str | None:
    """The page text with ``organisation`` appended to ``{{Practice}}``'s ``adopted_by``;
    None when it is already listed. Everything else on the page is kept as it is."""
    code = mwparserfromhell.parse(wikitext)
    templates = top_templates(code, TEMPLATE)
    if len(templates) != 1:
        found = "no" if not templates else str(len(templates))
        raise AdoptionError(f"practice {title!r}: the page has {found} {{{{Practice}}}} templates")
    template = templates[0]
    shown = escape(organisation)  # plain text on the wiki: no markup, no signatures
    if not template.has(FIELD):
        template.add(FIELD, shown)
        return str(code)
    param = template.get(FIELD)
    text = str(param.value)
    present = param.value.strip_code(normalize=True, collapse=True).split(",")
    if normalise(organisation) in {normalise(item) for item in present}:
        return None
    # Keep the value's own trailing whitespace (the line break before the next field).
    body = text.rstrip()
    tail = text[len(body) :]
    lead = text[: len(text) - len(text.lstrip())]
    body = body.strip()
    param.value = f"{lead}{body}, {shown}{tail}" if body else f"{lead}{shown}{tail}"
    return str(code)


def check_organisation(organisation: str) -> None:
    if not organisation:
        raise AdoptionError("organisation: empty name")
    if "," in organisation:  # the template's list is comma-separated
        raise AdoptionError(f"organisation {organisation!r}: one name, without commas")


# -- the store ------------------------------------------------------------------------


def find_practice(session: Session, title: str) -> Practice:
    """The stored, not deleted practice with this page title (first letter and
    underscores as the wiki treats them); AdoptionError when there is none."""
    wanted = " ".join(title.replace("_", " ").split())
    candidates = {wanted, wanted[:1].upper() + wanted[1:]}
    practice = session.scalars(
        select(Practice).where(Practice.title.in_(candidates), Practice.deleted_at.is_(None))
    ).first()
    if practice is None:
        raise AdoptionError(f"practice {title!r}: no practice page with this title is known")
    return practice


def _insert(
    session: Session,
    practice: Practice,
    organisation: str,
    *,
    source: str,
    revid: int | None,
    at: datetime,
    actor: str | None,
) -> PracticeAdoption | None:
    """Store one adoption (None when a concurrent writer stored it) and, when it is by
    another organisation than the originating one, its event in the same transaction."""
    values = {
        "page_id": practice.page_id,
        "organisation": organisation,
        "source": source,
        "actor": actor,
        "revid": revid,
        "adopted_at": at,
    }
    statement = dialect_insert(session, PracticeAdoption).values(**values)
    statement = statement.on_conflict_do_nothing().returning(PracticeAdoption.id)
    row_id = session.execute(statement).scalar()
    if row_id is None:
        return None
    row = session.get(PracticeAdoption, row_id)
    assert row is not None
    _record_event(session, practice, row, at=at)
    return row


def _record_event(
    session: Session,
    practice: Practice,
    row: PracticeAdoption,
    *,
    at: datetime,
    again: str | None = None,
) -> None:
    """The adoption's event, when it is by another organisation than the originating one
    (that one adopting its own practice is no event, and credits no one)."""
    partners = Organisations.read(session)
    adopter = partners.canonical(row.organisation)
    if normalise(adopter) != normalise(partners.canonical(practice.originating_organisation)):
        inbox.record(session, adoption_event(practice, row, at=at, again=again))


def _withdraw_credit(
    session: Session, practice: Practice, row: PracticeAdoption, *, revid: int, at: datetime
) -> None:
    """Cancel the withdrawn adoption's credit to the practice's author."""
    cancel_adoption_credit(
        session,
        page_id=practice.page_id,
        organisation=row.organisation,
        reason=f"adoption withdrawn in revision {revid}",
        at=at,
    )


def adoption_event(
    practice: Practice,
    adoption: PracticeAdoption,
    *,
    at: datetime | None = None,
    again: str | None = None,
) -> Event:
    """The event of an adoption; ``again`` (the revision that listed it once more) tells
    a re-adoption's event from the first one."""
    key = normalise(adoption.organisation)
    suffix = f":again:{again}" if again else ""
    event_id = f"{event_kinds.PRACTICE_ADOPTED.replace('.', ':')}:{practice.page_id}:{key}"
    if len(event_id) + len(suffix) > MAX_EVENT_ID:  # long names: a digest keeps it short
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        event_id = f"{event_id[: MAX_EVENT_ID - len(digest) - len(suffix) - 1]}~{digest}"
    return Event(
        event_id=event_id + suffix,
        kind=event_kinds.PRACTICE_ADOPTED,
        source="community",
        subject=f"practice:{practice.page_id}",
        actor=adoption.actor,
        occurred_at=at or adoption.adopted_at,
        delivery_id=None,
        payload={
            "page_id": practice.page_id,
            "title": practice.title,
            "tag": practice.tag,
            "organisation": adoption.organisation,
            "originating_organisation": practice.originating_organisation,
            "author": practice.author,
            "author_platform": practice.author_platform,
            "source": adoption.source,
            "revid": adoption.revid,
        },
    )
