"""The practices registry: wiki pages with ``{{Practice}}`` -> stored practices, their
forum tags (inside the practices tag group), renames and adoptions.

A malformed page is reported and changes nothing. Forum writes come before the store
rows that record them, so a sync cut short is completed by the next one (every step
first looks at what is already there).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from community.constellations.models import record_malformed, resolve_issues
from community.credits.forum_credit import credit_practice_author
from community.partners.registry import check_named_partners
from community.practices.adoption import sync_template_adoptions
from community.practices.models import Practice, PracticeTagName
from community.practices.page import PracticeError, PracticePage, parse_practice
from community.practices.section import refresh_practice_section
from community.practices.stubs import practice_group
from community.practices.summary import PracticeSyncSummary
from community.practices.tagging import reconcile_topics
from community.practices.tags import tag_for
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient, WikiPage
from core import clock
from core.config import Settings
from core.errors import ConnectorError, InvalidRequest, NotFound
from core.store import Store, dialect_insert

OUTCOMES = ("created", "updated", "unchanged", "renamed", "malformed", "deleted", "not a practice")


def sync_practice_page(
    session: Session, wiki: WikiClient, forum: ForumClient, settings: Settings, page: WikiPage
) -> str:
    """Sync one page as read by ``read_pages``; returns one of OUTCOMES."""
    if not page.exists or page.pageid is None:
        return _gone(session, page.title)
    limit = int(settings["practices"]["max_tag_length"])
    try:
        parsed = parse_practice(page.title, page.text, max_tag_length=limit)
        if parsed is not None:
            _check_explicit_tag(session, page.pageid, parsed)
    except PracticeError as error:
        record_malformed(session, title=page.title, page_id=page.pageid, error=error)
        return "malformed"
    resolve_issues(session, kind="malformed", wiki_title=page.title, wiki_page_id=page.pageid)
    practice = session.get(Practice, page.pageid)
    if parsed is None:
        # A redirect left by a move, or a page whose template was removed.
        if practice is None or practice.deleted_at is not None:
            return "not a practice"
        practice.deleted_at = clock.now()
        session.flush()
        return "deleted"
    tag = _wanted_tag(session, practice, parsed, page.pageid, limit)
    old_tag = practice.tag if practice is not None and practice.tag != tag else None
    _ensure_forum_tag(forum, settings, tag, old_tag)
    outcome = _store(session, wiki, practice, parsed, page, tag)
    if old_tag is not None and outcome != "created":
        outcome = "renamed"
    stored = session.get(Practice, page.pageid)
    assert stored is not None
    credit_practice_author(session, stored, settings)
    refresh_practice_section(session, wiki, settings, stored, page=page)
    return outcome


def sync_practices(
    store: Store,
    settings: Settings,
    *,
    titles: Iterable[str] | None = None,
    full: bool = False,
    wiki: WikiClient | None = None,
    forum: ForumClient | None = None,
    progress: bool = False,
) -> PracticeSyncSummary:
    """Sync the named practice pages or, with ``full``, every page in the practices
    category and every known practice, then the forum side: topics that discuss a
    practice and practice tags people made (stubs). One transaction per page."""
    wiki = wiki or WikiClient(settings["wiki"])
    forum = forum or ForumClient(settings["forum"])
    wanted = list(titles or [])
    with store.session() as session:
        if full:
            wanted += [h.title for h in wiki.category_members([settings["practices"]["category"]])]
            wanted += session.scalars(select(Practice.title)).all()
    wanted = list(dict.fromkeys(t for t in wanted if t.strip()))
    pages = sorted(wiki.read_pages(wanted).values(), key=lambda p: not p.exists)
    summary = PracticeSyncSummary()
    seen: set[int] = set()
    bar = tqdm(pages, desc="practices", unit="page", file=sys.stderr, disable=not progress)
    for page in bar:
        if page.pageid is not None and page.exists:
            if page.pageid in seen:
                continue  # a moved page, read under its old and new titles
            seen.add(page.pageid)
        try:
            with store.session() as session:
                summary.count(sync_practice_page(session, wiki, forum, settings, page), page.title)
        except ConnectorError as exc:
            summary.errors += 1
            summary.lines.append(f"error: {page.title}: {type(exc).__name__}: {exc}")
    if full:
        reconcile_topics(store, wiki, forum, settings, summary)
    return summary


def _gone(session: Session, title: str) -> str:
    practice = session.scalars(select(Practice).where(Practice.title == title)).first()
    if practice is None or practice.deleted_at is not None:
        return "not a practice"
    practice.deleted_at = clock.now()  # its tag and topics stay on the forum
    session.flush()
    return "deleted"


def _check_explicit_tag(session: Session, page_id: int, parsed: PracticePage) -> None:
    if parsed.tag is None:
        return
    owner = session.get(PracticeTagName, parsed.tag)
    if owner is not None and owner.page_id != page_id:
        other = session.get(Practice, owner.page_id)
        name = other.title if other is not None else f"page {owner.page_id}"
        raise PracticeError(parsed.title, "tag", f"{parsed.tag!r} is the tag of {name!r}")


def _wanted_tag(
    session: Session, practice: Practice | None, parsed: PracticePage, page_id: int, limit: int
) -> str:
    """The explicit tag, else the tag the practice has while its title stays, else a new
    one made from the title that no other practice has had."""
    if parsed.tag is not None:
        return parsed.tag
    if practice is not None and practice.title == parsed.title:
        return practice.tag
    others = select(PracticeTagName.name).where(PracticeTagName.page_id != page_id)
    taken = set(session.scalars(others).all())
    return tag_for(parsed.title, page_id, max_length=limit, taken=taken)


def _ensure_forum_tag(
    forum: ForumClient, settings: Settings, tag: str, old_tag: str | None
) -> None:
    """The tag exists in the practices tag group; a renamed practice's old tag becomes
    the new one (renamed on the forum) and stays as its synonym."""
    if old_tag is not None:
        existing = forum.tags()
        if tag not in existing and old_tag in existing:
            forum.rename_tag(old_tag, tag)  # its topics and synonyms go with it
        elif old_tag in existing:
            # Both exist: a tag with synonyms cannot become one, so they move first.
            moved = _synonyms(forum, old_tag)
            if moved:
                _add_synonyms(forum, tag, moved)
        if old_tag not in _synonyms(forum, tag):
            _add_synonyms(forum, tag, [old_tag])
    group = practice_group(forum, settings)
    name = str(settings["practices"]["tag_group"])
    if group is None:
        forum.create_tag_group(name, [tag])
    elif tag not in group.tag_names:
        # The group's list is replaced as a whole: keep every tag it holds.
        forum.update_tag_group(group.id, tag_names=[*group.tag_names, tag])


def _synonyms(forum: ForumClient, tag: str) -> list[str]:
    info = forum.tag_info(tag) or {}
    return [str(synonym["name"]) for synonym in info.get("synonyms") or ()]


def _add_synonyms(forum: ForumClient, tag: str, names: list[str]) -> None:
    failed = forum.add_tag_synonyms(tag, names)
    if failed:
        raise InvalidRequest(f"the forum refused synonyms of {tag!r}: {failed}", platform="forum")


def _store(
    session: Session,
    wiki: WikiClient,
    practice: Practice | None,
    parsed: PracticePage,
    page: WikiPage,
    tag: str,
) -> str:
    assert page.pageid is not None and page.revid is not None
    # Platform reads first: a handler's session commits before each request, and the
    # rows below must be written together.
    author = _first_author(wiki, page.title) if practice is None or not practice.author else None
    edited = practice is None or practice.revid != page.revid
    # Who listed the adopters: read only when the page has a revision we have not seen.
    actor = _last_author(wiki, page) if edited else None
    outcome = "unchanged"
    if practice is None:
        practice = Practice(page_id=page.pageid, title=page.title, tag=tag, revid=page.revid)
        session.add(practice)
        outcome = "created"
    fields = {
        "title": page.title,
        "tag": tag,
        "summary": parsed.summary,
        "originating_organisation": parsed.originating_organisation,
        "related_constellations": list(parsed.related_constellations),
        "aliases": list(parsed.aliases),
        "revid": page.revid,
        "deleted_at": None,
    }
    for name, value in fields.items():
        if getattr(practice, name) != value:
            setattr(practice, name, value)
            if outcome == "unchanged" and name != "revid":
                outcome = "updated"
    if practice.author is None and author:
        practice.author, practice.author_platform = author, "wiki"
    _name_tag(session, page.pageid, tag)
    if outcome != "unchanged":
        practice.updated_at = clock.now()
    session.flush()
    check_named_partners(
        session,
        title=page.title,
        page_id=page.pageid,
        named={
            "originating_organisation": [parsed.originating_organisation],
            "adopted_by": parsed.adopted_by,
        },
    )
    sync_template_adoptions(
        session,
        practice,
        parsed.adopted_by,
        revid=page.revid,
        at=page.timestamp or clock.now(),
        actor=actor,
    )
    session.flush()
    return outcome


def _name_tag(session: Session, page_id: int, tag: str) -> None:
    """``tag`` is the practice's current name; every other name it had is kept, not current."""
    rows = session.scalars(select(PracticeTagName).where(PracticeTagName.page_id == page_id))
    for row in rows:
        if row.current != (row.name == tag):
            row.current = row.name == tag
    session.execute(
        dialect_insert(session, PracticeTagName)
        .values(name=tag, page_id=page_id, current=True, created_at=clock.now())
        .on_conflict_do_nothing()
    )


def _first_author(wiki: WikiClient, title: str) -> str | None:
    try:
        first = next(wiki.revisions(title, batch=1), None)
    except NotFound:
        return None
    return first.user if first is not None else None


def _last_author(wiki: WikiClient, page: WikiPage) -> str | None:
    try:
        latest = next(wiki.revisions(page.title, batch=1, from_revid=page.revid), None)
    except NotFound:
        return None
    return latest.user if latest is not None else None
