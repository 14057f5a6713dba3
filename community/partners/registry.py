"""The partner registry: wiki pages with ``{{Partner}}`` -> stored partners and their
forum groups (made once, or linked when the forum has the group already).

A malformed page, a forum group another partner has, or a group renamed on the forum is
reported as a sync issue and changes nothing stored. Constellation pages that named an
unknown partner are looked at again whenever the registry changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from community.constellations.models import (
    PageTopicLink,
    record_issue,
    record_malformed,
    resolve_issues,
)
from community.partners.models import Partner
from community.partners.names import Organisations, normalise
from community.partners.page import PartnerError, PartnerPage, parse_partner
from community.partners.section import refresh_partner_section
from connectors.discourse.client import ForumClient
from connectors.discourse.records import Group
from connectors.mediawiki import WikiClient, WikiPage
from core import clock, forum_budget
from core.config import Settings
from core.errors import ConnectorError, NotFound
from core.store import Store

OUTCOMES = ("created", "updated", "unchanged", "retired", "malformed", "partner", "not a partner")


@dataclass
class PartnerSyncSummary:
    counts: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def count(self, outcome: str, title: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome not in ("unchanged", "not a partner"):
            self.lines.append(f"{outcome}: {title}")

    def headline(self) -> str:
        shown = [f"{n} {outcome}" for outcome, n in self.counts.items() if n]
        return "partners: " + (", ".join(shown) if shown else "nothing to do")


def sync_partners(
    store: Store,
    settings: Settings,
    *,
    titles: Iterable[str] | None = None,
    full: bool = False,
    wiki: WikiClient | None = None,
    forum: ForumClient | None = None,
    progress: bool = False,
) -> PartnerSyncSummary:
    """Sync the named partner pages or, with ``full``, every page in the partners
    category and every registered partner's page. One transaction per page."""
    wiki = wiki or WikiClient(settings["wiki"])
    forum = forum or ForumClient(settings["forum"])
    wanted = list(titles or [])
    if full:
        wanted += [h.title for h in wiki.category_members([settings["partners"]["category"]])]
        with store.session() as session:
            wanted += [t for t in session.scalars(select(Partner.wiki_title)) if t]
    wanted = list(dict.fromkeys(t for t in wanted if t.strip()))
    pages = sorted(wiki.read_pages(wanted).values(), key=lambda p: not p.exists)
    summary = PartnerSyncSummary()
    bar = tqdm(pages, desc="partners", unit="page", file=sys.stderr, disable=not progress)
    for page in bar:
        try:
            with store.session() as session:
                summary.count(sync_partner_page(session, wiki, forum, settings, page), page.title)
        except ConnectorError as exc:
            summary.count("error", page.title)
            summary.lines[-1] += f": {type(exc).__name__}: {exc}"
    return summary


def sync_partner_page(
    session: Session, wiki: WikiClient, forum: ForumClient, settings: Settings, page: WikiPage
) -> str:
    """Sync one page as read by ``read_pages``; returns one of OUTCOMES. The page's own
    section is written last (when its text changed)."""
    stored = _stored(session, page)
    if not page.exists or page.pageid is None:
        return _retire(session, stored)
    try:
        parsed = parse_partner(page.title, page.text)
        if parsed is not None:
            _check_unique(session, page.pageid, parsed)
    except PartnerError as error:
        record_malformed(session, title=page.title, page_id=page.pageid, error=error)
        return "malformed"
    resolve_issues(session, kind="malformed", wiki_title=page.title, wiki_page_id=page.pageid)
    if parsed is None:
        return _retire(session, stored) if stored is not None else "not a partner"
    group = _forum_group(session, forum, page, parsed, stored)
    if group is None:
        return "partner"
    resolve_issues(session, kind="partner", wiki_title=page.title, wiki_page_id=page.pageid)
    outcome = _store(session, stored, page, parsed, group)
    if outcome != "unchanged":
        recheck_constellations(session)
    partner = session.get_one(Partner, group.name)
    refresh_partner_section(session, wiki, settings, partner, page=page)
    return outcome


def _stored(session: Session, page: WikiPage) -> Partner | None:
    if page.pageid is not None:
        found = session.scalars(select(Partner).where(Partner.page_id == page.pageid)).first()
        if found is not None:
            return found
    return session.scalars(select(Partner).where(Partner.wiki_title == page.title)).first()


def _retire(session: Session, stored: Partner | None) -> str:
    """A deleted page or a removed template: the partner counts no more (its group and
    its people's history stay)."""
    if stored is None or stored.retired_at is not None:
        return "not a partner"
    stored.retired_at = clock.now()
    session.flush()
    recheck_constellations(session)
    return "retired"


def _check_unique(session: Session, page_id: int, parsed: PartnerPage) -> None:
    """No two partners share a forum group or a name: each would make people and pages
    belong to two organisations at once."""
    others = session.scalars(
        select(Partner).where(
            Partner.retired_at.is_(None),
            func.coalesce(Partner.page_id, -1) != page_id,
        )
    ).all()
    for other in others:
        if other.group_name.casefold() == parsed.forum_group.casefold():
            raise PartnerError(
                parsed.title,
                "forum_group",
                f"the forum group {parsed.forum_group!r} is already the group of the partner "
                f"page {other.wiki_title or other.name!r}",
            )
        taken = {normalise(n) for n in (other.name, other.short_name, other.group_name) if n}
        clash = [n for n in parsed.names() if normalise(n) in taken]
        if clash:
            raise PartnerError(
                parsed.title,
                "name",
                f"{clash[0]!r} already names the partner page {other.wiki_title or other.name!r}",
            )


def _forum_group(
    session: Session,
    forum: ForumClient,
    page: WikiPage,
    parsed: PartnerPage,
    stored: Partner | None,
) -> Group | None:
    """The page's forum group: found by name, or made once. A group we linked before that
    now has another name was renamed on the forum: reported, nothing changed (None)."""
    with forum_budget.priority("sync"):
        try:
            group = forum.get_group(parsed.forum_group)
        except NotFound:
            group = None
        linked = stored.group_id if stored is not None else None
        if linked is not None and (group is None or group.id != linked):
            renamed = _renamed(forum, linked, parsed.forum_group)
            if renamed is not None:
                record_issue(
                    session,
                    kind="partner",
                    wiki_title=page.title,
                    field="forum_group",
                    detail=(
                        f"the forum group {parsed.forum_group!r} (id {linked}) is "
                        f"now called {renamed.name!r} on the forum: put that name in "
                        "forum_group, or rename the group back"
                    ),
                    wiki_page_id=page.pageid,
                )
                return None
        if group is None:
            group = forum.create_group(parsed.forum_group, full_name=parsed.name)
    return group


def _renamed(forum: ForumClient, group_id: int, wanted: str) -> Group | None:
    """The group we linked, when it still exists under another name."""
    try:
        group = forum.group_by_id(group_id)
    except NotFound:
        return None  # deleted on the forum: the page's name is made or linked afresh
    return group if group.name.casefold() != wanted.casefold() else None


def _store(
    session: Session, stored: Partner | None, page: WikiPage, parsed: PartnerPage, group: Group
) -> str:
    values = {
        "group_name": group.name,
        "name": parsed.name,
        "short_name": parsed.short_name,
        "page_id": page.pageid,
        "wiki_title": page.title,
        "group_id": group.id,
        "website": parsed.website,
        "joined": parsed.joined,
        "retired_at": None,
    }
    if stored is None:
        stored = session.get(Partner, group.name)  # a retired partner's row comes back
        if stored is None:
            session.add(Partner(**values))
            session.flush()
            return "created"
    if all(getattr(stored, key) == value for key, value in values.items()):
        return "unchanged"
    for key, value in values.items():
        setattr(stored, key, value)
    session.flush()
    return "updated"


# -- constellations naming partners --------------------------------------------------------


def check_named_partners(
    session: Session, *, title: str, page_id: int, named: Mapping[str, Iterable[str]]
) -> list[str]:
    """Record (or resolve) the sync issue of a page whose fields (``named``: field ->
    the names it holds) name no registered partner; returns the unknown names."""
    partners = Organisations.read(session)
    unknown: dict[str, str] = {}  # name -> the first field naming it
    for field_name, names in named.items():
        for name in names:
            if name.strip() and not partners.known(name):
                unknown.setdefault(name, field_name)
    if not unknown:
        resolve_issues(session, kind="unknown_partner", wiki_title=title, wiki_page_id=page_id)
        return []
    listed = ", ".join(repr(name) for name in unknown)
    record_issue(
        session,
        kind="unknown_partner",
        wiki_title=title,
        field=next(iter(unknown.values())),
        detail=(
            f"{listed} {'is' if len(unknown) == 1 else 'are'} not a registered partner: add a "
            "page with {{Partner}} for each, or write the name of one that has a page"
        ),
        wiki_page_id=page_id,
    )
    return list(unknown)


def recheck_constellations(session: Session) -> None:
    """Every linked constellation checked against the registry as it is now (from the
    charters the store keeps: no wiki read)."""
    live = select(PageTopicLink).where(
        PageTopicLink.charter.is_not(None), PageTopicLink.archived_at.is_(None)
    )
    for link in session.scalars(live):
        charter = link.charter or {}
        check_named_partners(
            session,
            title=link.wiki_title,
            page_id=link.wiki_page_id,
            named={
                "lead_partner": [str(charter.get("lead_partner") or "")],
                "partners": [str(p) for p in charter.get("partners") or []],
            },
        )
