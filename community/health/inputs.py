"""What the health metrics of one scope read from the store (never from a platform).

A scope is a constellation (its forum category, its charter kept on the page link) or a
forum category no constellation has. The posts loaded are every post of each topic that
had a post within the longest look-back (the widest window, or the freshness days), so
replies to older posts still find what they reply to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import BindParameter, bindparam, func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, WikiChangeActivity
from community.constellations.charter import BEAT_DAYS
from community.constellations.leadership import LeadershipChange
from community.constellations.models import PageTopicLink
from community.credits.models import Account, Person
from community.credits.rules import is_ip_address, load_rules, normalise, own_accounts
from community.health.conversation import (
    Adoption,
    History,
    LeadChange,
    PageEdit,
    People,
    RawPost,
)
from community.health.first_posts import ForumFirstPost
from community.health.metrics import pulse_beats
from community.health.scope import CATEGORY, CONSTELLATION
from community.partners.names import Organisations
from community.practices.models import Practice, PracticeAdoption
from core.config import Settings

PERSON = "person:{}"
CATEGORY_BEAT = "weekly"  # the pulse of a category that is no constellation
# Wiki changes that are edits of a page's text (moves and log entries are not).
EDIT_TYPES = ("edit", "new")
T = TypeVar("T")


@dataclass(frozen=True)
class ScopeSpec:
    """Which scope, and what is known of it without reading the platforms."""

    scope: str
    kind: str
    label: str
    category_id: int
    charter: Mapping[str, Any] | None = None  # constellations only
    page_id: int | None = None

    @property
    def status(self) -> str | None:
        return str(self.charter["status"]) if self.charter else None

    @property
    def lead_partner(self) -> str | None:
        return str(self.charter["lead_partner"]) if self.charter else None

    @property
    def beat_days(self) -> int:
        """The length of the constellation's beat (a category has no rhythm of its own)."""
        return BEAT_DAYS[str(self.charter["beat"]) if self.charter else CATEGORY_BEAT]


@dataclass(frozen=True)
class ScopeInputs:
    rows: Sequence[RawPost]
    people: People
    histories: Mapping[str, History]  # person key -> first posts ever
    centre: frozenset[str]  # person keys of the stewards and the lead partner's people
    adoptions: Sequence[Adoption]
    lead_changes: Sequence[LeadChange]
    pages: Sequence[PageEdit]
    term_end: date | None
    lead_group: str | None  # the forum group of the lead partner, when the forum has one
    # The forum account behind each username of ``rows`` (what ``people`` was made from).
    accounts: Mapping[str, ForumAccount] = field(default_factory=dict)


# -- scopes -----------------------------------------------------------------------------


def scope_specs(session: Session) -> list[ScopeSpec]:
    """Every constellation with a forum category, then every other category with posts."""
    specs: list[ScopeSpec] = []
    taken: set[int] = set()
    links = session.scalars(
        select(PageTopicLink)
        .where(
            PageTopicLink.forum_category_id.is_not(None),
            PageTopicLink.charter.is_not(None),
            PageTopicLink.archived_at.is_(None),
        )
        .order_by(PageTopicLink.wiki_title)
    )
    for link in links:
        assert link.forum_category_id is not None
        specs.append(_constellation_spec(link))
        taken.add(link.forum_category_id)
    categories = session.scalars(
        select(ForumPostActivity.category_id)
        .where(ForumPostActivity.category_id.is_not(None), ForumPostActivity.private.is_(False))
        .distinct()
    )
    for category_id in sorted(c for c in categories if c is not None and c not in taken):
        specs.append(
            ScopeSpec(f"{CATEGORY}:{category_id}", CATEGORY, f"Category {category_id}", category_id)
        )
    return specs


def spec_for(session: Session, scope: str) -> ScopeSpec | None:
    """The spec of one scope string; None when it names nothing known."""
    kind, _, ident = scope.partition(":")
    if not ident.isdigit():
        return None
    if kind == CONSTELLATION:
        link = session.scalars(_LINK, {"page_id": int(ident)}).first()
        if link is None or link.forum_category_id is None or not link.charter:
            return None
        return _constellation_spec(link)
    if kind == CATEGORY:
        return ScopeSpec(scope, CATEGORY, f"Category {ident}", int(ident))
    return None


def scope_of_category(session: Session, category_id: int) -> str:
    """The scope a category's posts belong to: its constellation's, or its own."""
    page_id = session.scalar(
        select(PageTopicLink.wiki_page_id).where(
            PageTopicLink.forum_category_id == category_id,
            PageTopicLink.charter.is_not(None),
            PageTopicLink.archived_at.is_(None),
        )
    )
    return f"{CONSTELLATION}:{page_id}" if page_id is not None else f"{CATEGORY}:{category_id}"


def _constellation_spec(link: PageTopicLink) -> ScopeSpec:
    assert link.forum_category_id is not None and link.charter is not None
    return ScopeSpec(
        scope=f"{CONSTELLATION}:{link.wiki_page_id}",
        kind=CONSTELLATION,
        label=link.wiki_title,
        category_id=link.forum_category_id,
        charter=link.charter,
        page_id=link.wiki_page_id,
    )


# -- inputs -----------------------------------------------------------------------------


def load_inputs(
    session: Session, settings: Settings, spec: ScopeSpec, *, now: datetime, later: bool = False
) -> ScopeInputs:
    """What the scope's figures as of ``now`` read; ``later``: with the posts written
    after ``now`` too (figures kept as time moves see them once it passes them)."""
    look_back = look_back_days(settings, spec)
    organisations = Organisations.read(session)
    since = now - timedelta(days=look_back)
    rows, accounts = _posts(session, spec.category_id, since, None if later else now)
    people = people_of(settings, accounts, organisations)
    charter = spec.charter or {}
    return ScopeInputs(
        rows=rows,
        people=people,
        histories=read_histories(session, people, accounts),
        centre=centre_of(people, charter, organisations),
        adoptions=_adoptions(session, organisations),
        lead_changes=_lead_changes(session, spec.page_id),
        pages=read_pages(session, settings, spec),
        term_end=date.fromisoformat(charter["term_end"]) if charter.get("term_end") else None,
        lead_group=organisations.group_of(spec.lead_partner),
        accounts=accounts,
    )


def look_back_days(settings: Settings, spec: ScopeSpec) -> int:
    """How far back a scope's figures read: the widest window, its pulse's beats (which
    may reach before the window) and the freshness days."""
    health = settings["health"]
    widest = max(int(days) for days in health["windows"])
    pulse_days = pulse_beats(widest, spec.beat_days) * spec.beat_days
    return max(widest, pulse_days, int(health["stale_days"]))


@dataclass(frozen=True)
class ForumAccount:
    person_id: int | None
    is_bot: bool
    organisation: str | None


# Bound parameters per IN list (SQLite allows a few thousand per statement at least).
CHUNK = 500
_COLUMNS = (
    ForumPostActivity.post_id,
    ForumPostActivity.topic_id,
    ForumPostActivity.post_number,
    ForumPostActivity.reply_to_post_number,
    ForumPostActivity.username,
    ForumPostActivity.created_at,
    ForumPostActivity.deleted,
    ForumPostActivity.hidden,
    ForumPostActivity.private,
    ForumPostActivity.post_type,
)


def _posts(
    session: Session, category_id: int, since: datetime, until: datetime | None
) -> tuple[list[RawPost], dict[str, ForumAccount]]:
    """Every post (before ``until``, when given) of each topic of the category with a
    post since ``since``: the category's posts since then (one range of its time index),
    and the earlier posts of the topics that started before (what their replies answer).
    A topic's posts share its category (a topic's move changes them all)."""
    post = ForumPostActivity
    # Core rows, not the ORM's: tens of thousands of posts per scope. The connection's
    # statements skip the session's autoflush, hence the flush.
    session.flush()
    connection = session.connection()
    recent = select(*_COLUMNS).where(post.category_id == category_id, post.created_at >= since)
    if until is not None:
        recent = recent.where(post.created_at < until)
    rows = [RawPost._make(values) for values in connection.execute(recent)]
    started = {row.topic_id for row in rows if row.post_number == 1}
    rows += read_topics(session, sorted({row.topic_id for row in rows} - started), before=since)
    return rows, read_accounts(session, {row.username for row in rows})


# The incremental step runs these for each new post: built once, their SQL is cached.
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_TOPICS = select(*_COLUMNS).where(ForumPostActivity.topic_id.in_(_IDS))
_TOPICS_BEFORE = _TOPICS.where(ForumPostActivity.created_at < bindparam("before"))
_POSTS = select(*_COLUMNS).where(ForumPostActivity.post_id.in_(_IDS))
_LINK = select(PageTopicLink).where(PageTopicLink.wiki_page_id == bindparam("page_id"))
_ACCOUNTS_OF = select(Account.username).where(
    Account.platform == "forum", Account.person_id.in_(_IDS)
)
_FIRST_POSTS = select(
    ForumFirstPost.username,
    ForumFirstPost.first_at,
    ForumFirstPost.first_post_id,
    ForumFirstPost.second_at,
).where(ForumFirstPost.username.in_(bindparam("names", expanding=True)))


def read_topics(
    session: Session, topic_ids: Sequence[int], *, before: datetime | None = None
) -> list[RawPost]:
    """The posts of these topics (written before ``before``, when given)."""
    query = _TOPICS if before is None else _TOPICS_BEFORE
    rows = []
    for part in _chunks(topic_ids):
        found = session.connection().execute(query, {"ids": part, "before": before})
        rows += [RawPost._make(values) for values in found]
    return rows


def read_posts(session: Session, post_ids: Sequence[int]) -> list[RawPost]:
    """These posts, as stored."""
    rows = []
    for part in _chunks(post_ids):
        found = session.connection().execute(_POSTS, {"ids": part})
        rows += [RawPost._make(values) for values in found]
    return rows


def read_accounts(session: Session, usernames: set[str]) -> dict[str, ForumAccount]:
    """The forum account (person, bot flag, organisation) behind each username; an
    unknown one has no person."""
    found = dict.fromkeys(usernames, ForumAccount(None, False, None))
    for part in _chunks(sorted(usernames)):
        query = (
            select(Account.username, Account.person_id, Account.is_bot, Person.organisation)
            .outerjoin(Person, Person.id == Account.person_id)
            .where(Account.platform == "forum", Account.username.in_(part))
        )
        for username, person_id, is_bot, organisation in session.connection().execute(query):
            found[username] = ForumAccount(person_id, bool(is_bot), organisation)
    return found


def _chunks(values: Sequence[T]) -> list[Sequence[T]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def people_of(
    settings: Settings, accounts: Mapping[str, ForumAccount], organisations: Organisations
) -> People:
    """Bots and our own accounts excluded; linked accounts one person; organisations by
    their full name."""
    # Our wiki account may post on the forum too (docs/metrics.md: our own accounts).
    ours = own_accounts(settings, "forum") | own_accounts(settings, "wiki")
    excluded = ours | set(load_rules(settings).exclude_accounts)
    excluded |= {name for name, account in accounts.items() if account.is_bot}
    person_of: dict[str, str] = {}
    organisation_of: dict[str, str] = {}
    for name, account in accounts.items():
        if account.person_id is None:
            continue
        key = PERSON.format(account.person_id)
        person_of[name] = key
        if account.organisation:
            organisation_of[key] = organisations.canonical(account.organisation)
    return People(frozenset(excluded), person_of, organisation_of)


def read_histories(
    session: Session, people: People, accounts: Mapping[str, ForumAccount]
) -> dict[str, History]:
    """Each person's first counted post ever and the next one, over all their accounts."""
    names = [name for name in accounts if people.counts(name)]
    if not names:
        return {}
    found: dict[str, list[tuple[datetime, int | None]]] = {}
    # A person's other (linked) accounts may not have posted here: read them as well.
    person_ids = sorted({a.person_id for a in accounts.values() if a.person_id is not None})
    wanted = set(names)
    for ids in _chunks(person_ids):
        wanted.update(session.connection().execute(_ACCOUNTS_OF, {"ids": ids}).scalars())
    for part in _chunks(sorted(wanted)):
        for username, at, post_id, second_at in session.connection().execute(
            _FIRST_POSTS, {"names": part}
        ):
            if not people.counts(username):
                continue
            times = found.setdefault(people.person(username), [])
            times.append((at, post_id))
            if second_at is not None:
                times.append((second_at, None))
    histories: dict[str, History] = {}
    for person, times in found.items():
        times.sort(key=lambda item: item[0])
        first_at, first_id = times[0]
        assert first_id is not None  # an account's first post sorts before its second
        second = times[1][0] if len(times) > 1 else None
        histories[person] = History(first_id, first_at, second)
    return histories


def centre_of(
    people: People, charter: Mapping[str, Any], organisations: Organisations
) -> frozenset[str]:
    """Stewards (named by username on the page) and the people of the lead partner."""
    stewards = {people.person(name) for name in charter.get("stewards") or []}
    lead = charter.get("lead_partner")
    if lead:
        lead_name = organisations.canonical(str(lead))
        stewards |= {key for key, org in people.organisation_of.items() if org == lead_name}
    return frozenset(stewards)


def _adoptions(session: Session, organisations: Organisations) -> list[Adoption]:
    query = (
        select(
            PracticeAdoption.organisation,
            Practice.originating_organisation,
            PracticeAdoption.adopted_at,
        )
        .join(Practice, Practice.page_id == PracticeAdoption.page_id)
        .where(PracticeAdoption.withdrawn_at.is_(None), Practice.deleted_at.is_(None))
    )
    return [
        Adoption(
            organisations.canonical(adopter),
            organisations.canonical(owner) if owner else None,
            at,
        )
        for adopter, owner, at in session.execute(query)
    ]


def _lead_changes(session: Session, page_id: int | None) -> list[LeadChange]:
    if page_id is None:
        return []
    query = (
        select(
            LeadershipChange.lead_partner,
            LeadershipChange.previous_lead,
            LeadershipChange.timestamp,
        )
        .where(LeadershipChange.wiki_page_id == page_id)
        .order_by(LeadershipChange.timestamp, LeadershipChange.revid)
    )
    # Rows also record partner-list changes; only a new lead starts a term.
    return [
        LeadChange(lead, at) for lead, previous, at in session.execute(query) if lead != previous
    ]


def read_pages(session: Session, settings: Settings, spec: ScopeSpec) -> list[PageEdit]:
    """The constellation's page and the practice pages that name it as related, each
    with the last edit a counted person made (bots' and Constellate's edits do not count);
    none for a category."""
    if spec.page_id is None:
        return []
    wanted = normalise(spec.label)
    practices = session.scalars(select(Practice).where(Practice.deleted_at.is_(None)))
    related = [p.title for p in practices if wanted in map(normalise, p.related_constellations)]
    titles = [spec.label, *sorted(related)]
    excluded = own_accounts(settings, "wiki") | set(load_rules(settings).exclude_accounts)
    bots = session.scalars(
        select(Account.username).where(Account.platform == "wiki", Account.is_bot.is_(True))
    )
    excluded |= {normalise(name) for name in bots}
    change = WikiChangeActivity
    query = (
        select(change.title, change.user, func.max(change.timestamp))
        .where(change.title.in_(titles), change.type.in_(EDIT_TYPES))
        .group_by(change.title, change.user)
    )
    last: dict[str, datetime] = {}
    for title, user, at in session.execute(query):
        if not user or is_ip_address(user) or normalise(user) in excluded:
            continue
        last[title] = max(last.get(title, at), at)
    return [PageEdit(title, last.get(title)) for title in titles]
