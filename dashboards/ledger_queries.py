"""Read-only queries behind one person's page and ledger API: their accounts, their
score explained by kind, and their ledger rows a page at a time, each with a link to the
wiki revision or forum post it came from.

A person who opted out gets no score and no rows: the page says so instead."""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.credits.export import KINDS
from community.credits.models import Account, CreditEntry, CreditTotal, Person
from dashboards.practices_queries import Places, places_for

REVISION = re.compile(r"^(?:head:)?(\d+)")  # "head:123@2" or "123@2": the wiki revision


@dataclass(frozen=True)
class AccountView:
    id: int
    platform: str
    username: str
    is_bot: bool


@dataclass(frozen=True)
class KindTotal:
    kind: str
    entries: int  # contributions recorded
    cancelled: int  # counter-entries that took one back
    points: float


@dataclass(frozen=True)
class Score:
    total: float
    by_kind: list[KindTotal]


@dataclass(frozen=True)
class PersonView:
    person_id: int
    name: str
    organisation: str
    organisation_source: str
    opted_out: bool
    accounts: list[AccountView]
    score: Score | None  # None when the person opted out


@dataclass(frozen=True)
class LedgerRow:
    id: int
    occurred_at: datetime
    platform: str
    account: str
    kind: str
    object: str
    ref: str
    weight: float
    rule: str
    rules_version: str | None
    cancels: bool  # a counter-entry taking back an earlier contribution
    reason: str  # why a counter-entry was written, or why this row was cancelled
    cancelled: bool  # a contribution a later counter-entry took back
    url: str  # the wiki revision or forum post it came from ("" when unknown)


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    page: int
    has_next: bool


@dataclass
class Links:
    """Where provenance points: the configured wiki and forum, and the topic and post
    number of forum posts (learnt from the activity rows, a page at a time)."""

    places: Places
    topics: dict[int, tuple[int, int]] = field(default_factory=dict)


def first_username(accounts: list[str]) -> str:
    """What to call a person with no name: their first account's username."""
    return accounts[0].split(":", 1)[1] if accounts else ""


# -- one person ------------------------------------------------------------------------------


def person_view(session: Session, person_id: int) -> PersonView | None:
    """The person, their accounts and their score by kind; for someone who opted out,
    none of those (only their id and organisation)."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    accounts = [
        AccountView(a.id, a.platform, a.username, a.is_bot)
        for a in session.scalars(
            select(Account)
            .where(Account.person_id == person_id)
            .order_by(Account.platform, Account.username)
        )
    ]
    names = [f"{a.platform}:{a.username}" for a in accounts]
    if person.opted_out:  # counted elsewhere, never named: no name, accounts or figures
        return PersonView(
            person_id=person.id,
            name=f"Person {person.id}",
            organisation=person.organisation or "",
            organisation_source=person.organisation_source or "",
            opted_out=True,
            accounts=[],
            score=None,
        )
    return PersonView(
        person_id=person.id,
        name=person.name or first_username(names),
        organisation=person.organisation or "",
        organisation_source=person.organisation_source or "",
        opted_out=False,
        accounts=accounts,
        score=_score(session, accounts),
    )


def _score(session: Session, accounts: list[AccountView]) -> Score:
    query = (
        select(
            CreditTotal.kind,
            func.sum(CreditTotal.entries),
            func.sum(CreditTotal.cancelled),
            func.sum(CreditTotal.points),
        )
        .where(CreditTotal.account_id.in_([a.id for a in accounts]))
        .group_by(CreditTotal.kind)
    )
    found = {
        kind: KindTotal(kind, int(entries), int(cancelled), round(float(points), 6))
        for kind, entries, cancelled, points in session.execute(query)
    }
    order = [*KINDS, *sorted(set(found) - set(KINDS))]
    by_kind = [found[kind] for kind in order if kind in found]
    return Score(total=round(sum(k.points for k in by_kind), 6), by_kind=by_kind)


def ledger_page(
    session: Session, person: PersonView, links: Links, *, page: int, page_size: int
) -> LedgerPage:
    """The person's ledger rows, newest first, one page of them (empty when they opted
    out). Each account's rows are read newest first on their own and merged, so a page
    never sorts a prolific person's whole ledger."""
    if person.opted_out or not person.accounts:
        return LedgerPage([], page, False)
    wanted = page * page_size + 1
    streams = [
        session.scalars(
            select(CreditEntry)
            .where(CreditEntry.platform == a.platform, CreditEntry.account == a.username)
            .order_by(CreditEntry.occurred_at.desc(), CreditEntry.id.desc())
            .limit(wanted)
        ).all()
        for a in person.accounts
    ]
    merged = list(heapq.merge(*streams, key=lambda e: (e.occurred_at, e.id), reverse=True))
    entries = merged[(page - 1) * page_size : page * page_size]
    keys = [e.entry_key for e in entries if e.cancels_key is None]
    taken_back: dict[str, str] = {}
    if keys:
        query = select(CreditEntry.cancels_key, CreditEntry.reason).where(
            CreditEntry.cancels_key.in_(keys)
        )
        taken_back = {str(key): reason or "" for key, reason in session.execute(query)}
    _learn_topics(session, links, entries)
    rows = [
        LedgerRow(
            id=e.id,
            occurred_at=e.occurred_at,
            platform=e.platform,
            account=e.account,
            kind=e.kind,
            object=e.object,
            ref=e.ref,
            weight=e.weight,
            rule=e.rule,
            rules_version=e.rules_version,
            cancels=e.cancels_key is not None,
            reason=(e.reason or "") if e.cancels_key else taken_back.get(e.entry_key, ""),
            cancelled=e.entry_key in taken_back,
            url=source_url(links, e.platform, e.object, e.ref),
        )
        for e in entries
    ]
    return LedgerPage(rows, page, len(merged) > page * page_size)


# -- provenance links --------------------------------------------------------------------------


def links_for(settings: Any) -> Links:
    return Links(places_for(settings))


def _learn_topics(session: Session, links: Links, entries: Iterable[CreditEntry]) -> None:
    """The topic and post number of the page's forum posts, from the activity rows."""
    posts = {
        int(e.object.split(":", 1)[1])
        for e in entries
        if e.object.startswith("post:") and e.object[5:].isdigit()
    } - set(links.topics)
    if not posts:
        return
    query = select(
        ForumPostActivity.post_id, ForumPostActivity.topic_id, ForumPostActivity.post_number
    ).where(ForumPostActivity.post_id.in_(posts))
    for post_id, topic_id, number in session.execute(query):
        links.topics[post_id] = (topic_id, number)


def source_url(links: Links, platform: str, obj: str, ref: str) -> str:
    """The wiki revision (or page) or the forum post a ledger row came from."""
    prefix, _, ident = obj.partition(":")
    if not ident.isdigit():
        return ""
    places = links.places
    if prefix == "post" and places.forum:
        where = links.topics.get(int(ident))
        if where is not None:
            return f"{places.forum}/t/{where[0]}/{where[1]}"
        return f"{places.forum}/p/{ident}"  # Discourse's short link to a post
    if prefix in ("page", "practice") and places.wiki_index:
        revision = REVISION.match(ref) if platform == "wiki" and prefix == "page" else None
        if revision is not None:
            return f"{places.wiki_index}?oldid={revision.group(1)}"
        return places.page(int(ident))
    return ""
