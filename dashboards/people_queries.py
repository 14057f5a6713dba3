"""Read-only queries behind the People page and its API: the leaderboard, identity-link
suggestions and organisations (one person's score and ledger: dashboards.ledger_queries).

Totals are summed in SQL and every list is one page long. People who opted out are
never listed one by one; they count only in how many opted out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from community.credits.export import KINDS
from community.credits.models import Account, CreditTotal, LinkSuggestion, Person
from community.partners.models import Partner
from dashboards.ledger_queries import first_username

MAX_ORGANISATIONS = 200  # partners are a handful; this only bounds a broken store


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    person_id: int
    name: str
    organisation: str
    accounts: tuple[str, ...]  # "platform:username"
    total: float
    by_kind: dict[str, float]


@dataclass(frozen=True)
class Leaderboard:
    rows: list[LeaderRow]
    page: int
    has_next: bool
    opted_out: int  # people who opted out (none of them is listed)
    kinds: list[str]  # the columns: known kinds first, then any other a rule file made


@dataclass(frozen=True)
class SuggestionView:
    id: int
    wiki_username: str
    forum_username: str
    reasons: list[str]
    state: str
    created_at: datetime
    wiki_person: int | None  # the person each account belongs to now, when known
    forum_person: int | None


@dataclass(frozen=True)
class SuggestionPage:
    rows: list[SuggestionView]
    page: int
    has_next: bool
    open_count: int


@dataclass(frozen=True)
class OrganisationCount:
    name: str
    people: int
    group: str  # the forum group it comes from ("" when only set by hand)


# -- the leaderboard -----------------------------------------------------------------------


def leaderboard(
    session: Session, *, page: int, page_size: int, organisation: str | None = None
) -> Leaderboard:
    """One page of people by total credit, highest first; opted-out people left out.

    Read from the ledger's totals per account and kind (a row per account, not per
    entry): each person's total ranks them, then the page's people get theirs by kind."""
    per_person = (
        select(Account.person_id, func.sum(CreditTotal.points).label("total"))
        .join(CreditTotal, CreditTotal.account_id == Account.id)
        .group_by(Account.person_id)
        .cte("per_person")
    )
    ranked = (
        select(Person.id, Person.name, Person.organisation, per_person.c.total)
        .join(per_person, per_person.c.person_id == Person.id)
        .where(Person.opted_out.is_(False))
        .order_by(per_person.c.total.desc(), Person.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)  # one more tells whether a next page exists
    )
    if organisation is not None:
        ranked = ranked.where(Person.organisation == organisation)
    found = session.execute(ranked).all()
    shown = found[:page_size]
    ids = [row.id for row in shown]
    by_kind = _points_by_kind(session, ids)
    accounts = _account_names(session, ids)
    rows = [
        LeaderRow(
            rank=(page - 1) * page_size + number,
            person_id=row.id,
            name=row.name or first_username(accounts[row.id]),
            organisation=row.organisation or "",
            accounts=tuple(accounts[row.id]),
            total=round(float(row.total), 6),
            by_kind=by_kind[row.id],
        )
        for number, row in enumerate(shown, start=1)
    ]
    seen = {kind for row in rows for kind in row.by_kind}
    return Leaderboard(
        rows=rows,
        page=page,
        has_next=len(found) > page_size,
        opted_out=opted_out_count(session),
        kinds=[*KINDS, *sorted(seen - set(KINDS))],
    )


def _points_by_kind(session: Session, person_ids: list[int]) -> dict[int, dict[str, float]]:
    found: dict[int, dict[str, float]] = defaultdict(dict)
    if not person_ids:
        return found
    query = (
        select(Account.person_id, CreditTotal.kind, func.sum(CreditTotal.points))
        .join(CreditTotal, CreditTotal.account_id == Account.id)
        .where(Account.person_id.in_(person_ids))
        .group_by(Account.person_id, CreditTotal.kind)
    )
    for person_id, kind, points in session.execute(query):
        found[person_id][kind] = round(float(points), 6)
    return found


def opted_out_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Person.opted_out.is_(True))) or 0)


def _account_names(session: Session, person_ids: Iterable[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = defaultdict(list)
    ids = list(person_ids)
    if not ids:
        return names
    query = (
        select(Account.person_id, Account.platform, Account.username)
        .where(Account.person_id.in_(ids))
        .order_by(Account.platform, Account.username)
    )
    for person_id, platform, username in session.execute(query):
        names[person_id].append(f"{platform}:{username}")
    return names


# -- identity-link suggestions and organisations ---------------------------------------------


def link_suggestions(
    session: Session, *, page: int, page_size: int, state: str = "open"
) -> SuggestionPage:
    query = (
        select(LinkSuggestion)
        .where(LinkSuggestion.state == state)
        .order_by(LinkSuggestion.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    found = list(session.scalars(query))
    shown = found[:page_size]
    owners = _owners(session, shown)
    open_count = session.scalar(
        select(func.count()).select_from(LinkSuggestion).where(LinkSuggestion.state == "open")
    )
    rows = [
        SuggestionView(
            id=s.id,
            wiki_username=s.wiki_username,
            forum_username=s.forum_username,
            reasons=[str(r) for r in s.reasons or []],
            state=s.state,
            created_at=s.created_at,
            wiki_person=owners.get(("wiki", s.wiki_username)),
            forum_person=owners.get(("forum", s.forum_username)),
        )
        for s in shown
    ]
    return SuggestionPage(rows, page, len(found) > page_size, int(open_count or 0))


def _owners(session: Session, suggestions: list[LinkSuggestion]) -> dict[tuple[str, str], int]:
    if not suggestions:
        return {}
    wiki_names = {s.wiki_username for s in suggestions}
    forum_names = {s.forum_username for s in suggestions}
    query = select(Account.platform, Account.username, Account.person_id).where(
        or_(
            and_(Account.platform == "wiki", Account.username.in_(wiki_names)),
            and_(Account.platform == "forum", Account.username.in_(forum_names)),
        )
    )
    return {(platform, name): person for platform, name, person in session.execute(query)}


def organisation_counts(session: Session) -> tuple[list[OrganisationCount], int]:
    """People per organisation (partner groups with nobody yet included), and how many
    people have none."""
    counted = session.execute(
        select(Person.organisation, func.count())
        .where(Person.organisation.is_not(None))
        .group_by(Person.organisation)
        .limit(MAX_ORGANISATIONS)
    ).all()
    groups = {
        full: group
        for group, full in session.execute(
            select(Partner.group_name, Partner.name)
            .where(Partner.retired_at.is_(None))
            .limit(MAX_ORGANISATIONS)
        )
    }
    people = {str(name): int(n) for name, n in counted}
    rows = [
        OrganisationCount(name, people.get(name, 0), groups.get(name, ""))
        for name in set(people) | set(groups)
    ]
    rows.sort(key=lambda o: (-o.people, o.name.casefold()))
    unaffiliated = session.scalar(
        select(func.count()).select_from(Person).where(Person.organisation.is_(None))
    )
    return rows, int(unaffiliated or 0)


def organisation_names(session: Session) -> list[str]:
    """Names a moderator may pick from: the partner groups', then any set by hand."""
    rows, _ = organisation_counts(session)
    return sorted((o.name for o in rows), key=str.casefold)
