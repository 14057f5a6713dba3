"""What a constellation's page shows, read from the store only: its figures over time
(from the daily health snapshots), its leadership timeline, its participants by
organisation, its sync state and open sync issues, and its charter on both sides.

Participants by organisation is the one figure not kept in a snapshot: one aggregate over
one category's posts in one window, on the (category_id, created_at) index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.constellations.charter import page_url
from community.constellations.leadership import LeadershipChange
from community.constellations.models import ISSUE_KINDS, PageTopicLink, SyncIssue
from community.constellations.requests import RESOLVABLE_FIELD
from community.constellations.sync_runs import FULL, SyncRun
from community.credits.models import Account, Person
from community.credits.rules import load_rules, own_accounts
from community.health.conversation import People
from community.health.first_posts import countable
from community.health.models import HealthSnapshot
from community.health.scope import figure_at
from community.partners.names import Organisations
from core.config import Settings
from dashboards.overview_queries import (
    AlertRow,
    ConstellationRow,
    constellation_rows,
    open_alerts,
    scope_of,
    summary_window,
)

HISTORY_DAYS = 90  # snapshot days drawn on the constellation's charts
LEADERSHIP_ROWS = 500  # a page's changes of lead or partners; far more than any history has
NO_ORGANISATION = "No organisation"
RUNS_SEARCHED = 200  # recent sync runs looked through for the page's last one


@dataclass(frozen=True)
class Metric:
    path: str  # dotted path in a snapshot's figures
    label: str
    unit: str  # hours | share (0..1) | count


@dataclass(frozen=True)
class Chart:
    title: str
    y_label: str
    metrics: tuple[Metric, ...]


CHARTS = (
    Chart(
        "Time to first response",
        "hours",
        (
            Metric("first_response.km_median_hours", "median, waiting topics counted", "hours"),
            Metric("first_response.km_p90_hours", "90th pct, waiting topics counted", "hours"),
            Metric("first_response.median_hours", "median of answered topics", "hours"),
            Metric("first_response.p90_hours", "90th pct of answered topics", "hours"),
        ),
    ),
    Chart(
        "Two-way conversation",
        "% of topics or replies",
        (
            Metric("unanswered.rate", "unanswered in time", "share"),
            Metric("two_way.ratio", "two-way (poster came back)", "share"),
            Metric("cross_organisation.rate", "cross-organisation replies", "share"),
        ),
    ),
    Chart(
        "Centre and edge",
        "% of announcements or replies",
        (
            Metric("announcements.rate", "announcements answered by others in time", "share"),
            Metric("edge_replies.ratio", "replies to the centre by others", "share"),
        ),
    ),
    Chart(
        "People",
        "people",
        (
            Metric("participation.participants", "participants", "count"),
            Metric("newcomers.newcomers", "newcomers", "count"),
        ),
    ),
)


@dataclass(frozen=True)
class MetricSeries:
    metric: Metric
    points: list[tuple[date, float | None]]  # oldest first


@dataclass(frozen=True)
class Leadership:
    at: datetime
    lead_partner: str
    previous_lead: str | None
    partners: list[str]
    previous_partners: list[str] | None
    user: str | None
    revid: int

    @property
    def new_lead(self) -> bool:
        return self.lead_partner != self.previous_lead


@dataclass(frozen=True)
class OrganisationShare:
    organisation: str
    participants: int
    posts: int


@dataclass(frozen=True)
class SyncState:
    wiki_title: str
    wiki_url: str
    forum_category_id: int | None
    category_name: str | None
    category_url: str | None
    forum_topic_id: int | None
    topic_url: str | None
    written_at: datetime  # when a sync last changed the page's link (the forum side)
    archived_at: datetime | None
    forum_text: str | None  # the charter post as last written to the forum
    last_run: RunRow | None  # the newest finished sync run that covered the page


@dataclass(frozen=True)
class RunRow:
    id: int
    trigger: str
    finished_at: datetime
    error: str | None


@dataclass(frozen=True)
class IssueRow:
    id: int
    kind: str
    field: str | None
    detail: str
    forum_post_id: int | None
    created_at: datetime

    @property
    def resolvable(self) -> bool:
        """Whether choosing a side settles it (other issues need a change on the wiki)."""
        return self.kind == "conflict" and self.field == RESOLVABLE_FIELD


@dataclass(frozen=True)
class ConstellationDetail:
    row: ConstellationRow
    charter: Mapping[str, Any]
    window_days: int
    series: list[MetricSeries]
    leadership: list[Leadership]
    participants: list[OrganisationShare]
    participants_since: datetime
    participants_until: datetime
    sync: SyncState
    issues: list[IssueRow]
    alerts: list[AlertRow]

    def lead_spans(self) -> list[tuple[str, datetime, datetime | None]]:
        """Each lead partner's term: from the change that made them lead to the next."""
        starts = [change for change in self.leadership if change.new_lead]
        return [
            (change.lead_partner, change.at, starts[i + 1].at if i + 1 < len(starts) else None)
            for i, change in enumerate(starts)
        ]


def constellation(
    session: Session, settings: Settings, page_id: int, *, now: datetime
) -> ConstellationDetail | None:
    """Everything the constellation's page shows; None when no constellation has the id.
    ``now`` ends the participants' window when no health snapshot exists yet."""
    link = session.scalars(
        select(PageTopicLink).where(
            PageTopicLink.wiki_page_id == page_id, PageTopicLink.charter.is_not(None)
        )
    ).first()
    if link is None:
        return None
    scope = scope_of(page_id)
    window_days = summary_window(settings)
    (row,) = constellation_rows(session, settings, [link])
    until = row.health.computed_at if row.health else now
    since = until - timedelta(days=window_days)
    return ConstellationDetail(
        row=row,
        charter=link.charter or {},
        window_days=window_days,
        series=metric_series(session, scope, window_days),
        leadership=leadership(session, page_id),
        participants=participants_by_organisation(
            session, settings, link.forum_category_id, since=since, until=until
        ),
        participants_since=since,
        participants_until=until,
        sync=_sync_state(session, settings, link),
        issues=open_issues(session, link),
        alerts=open_alerts(session, scope=scope)[0],
    )


def metric_series(session: Session, scope: str, window_days: int) -> list[MetricSeries]:
    """Each charted metric over the last ``HISTORY_DAYS`` snapshot days, oldest first."""
    snapshots = list(
        session.execute(
            select(HealthSnapshot.day, HealthSnapshot.values)
            .where(HealthSnapshot.scope == scope, HealthSnapshot.window_days == window_days)
            .order_by(HealthSnapshot.day.desc())
            .limit(HISTORY_DAYS)
        ).all()
    )
    snapshots.reverse()
    return [
        MetricSeries(
            metric, [(day, _number(figure_at(values, metric.path))) for day, values in snapshots]
        )
        for chart in CHARTS
        for metric in chart.metrics
    ]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def leadership(session: Session, page_id: int) -> list[Leadership]:
    """The page's changes of lead partner or partners, oldest first."""
    query = (
        select(LeadershipChange)
        .where(LeadershipChange.wiki_page_id == page_id)
        .order_by(LeadershipChange.timestamp, LeadershipChange.revid)
        .limit(LEADERSHIP_ROWS)
    )
    return [
        Leadership(
            at=change.timestamp,
            lead_partner=change.lead_partner,
            previous_lead=change.previous_lead,
            partners=list(change.partners),
            previous_partners=list(change.previous_partners)
            if change.previous_partners is not None
            else None,
            user=change.user,
            revid=change.revid,
        )
        for change in session.scalars(query)
    ]


def participants_by_organisation(
    session: Session,
    settings: Settings,
    category_id: int | None,
    *,
    since: datetime,
    until: datetime,
) -> list[OrganisationShare]:
    """Distinct people and counted posts per organisation in the category, in
    ``[since, until)``, counted as the health metrics count: bots, our own accounts and
    excluded accounts left out, linked accounts one person, organisations by full name."""
    if category_id is None:
        return []
    post = ForumPostActivity
    # Posts are counted per account first, so accounts and people are joined once per
    # author rather than once per post.
    authors = (
        select(post.username, func.count().label("posts"))
        .where(
            post.category_id == category_id,
            post.created_at >= since,
            post.created_at < until,
            *countable(),
        )
        .group_by(post.username)
        .subquery()
    )
    query = (
        select(
            authors.c.username,
            authors.c.posts,
            Account.person_id,
            Account.is_bot,
            Person.organisation,
        )
        .select_from(authors)
        .outerjoin(
            Account, (Account.platform == "forum") & (Account.username == authors.c.username)
        )
        .outerjoin(Person, Person.id == Account.person_id)
    )
    rows = session.execute(query).all()
    excluded = own_accounts(settings, "forum") | own_accounts(settings, "wiki")
    excluded |= set(load_rules(settings).exclude_accounts)
    excluded |= {name for name, _, _, is_bot, _ in rows if is_bot}
    people = People(
        excluded=frozenset(excluded),
        person_of={name: f"person:{pid}" for name, _, pid, _, _ in rows if pid is not None},
    )
    names = Organisations.read(session)
    members: dict[str, set[str]] = {}
    posts: dict[str, int] = {}
    for name, count, _, _, organisation in rows:
        if not people.counts(name):
            continue
        where = names.canonical(organisation) if organisation else NO_ORGANISATION
        members.setdefault(where, set()).add(people.person(name))
        posts[where] = posts.get(where, 0) + int(count)
    shares = [OrganisationShare(org, len(members[org]), posts[org]) for org in members]
    # Most people first; "No organisation" after the partners it ties with.
    return sorted(
        shares,
        key=lambda s: (
            -s.participants,
            -s.posts,
            s.organisation == NO_ORGANISATION,
            s.organisation.casefold(),
        ),
    )


def _sync_state(session: Session, settings: Settings, link: PageTopicLink) -> SyncState:
    forum = str(settings["forum"].get("url") or "").rstrip("/")
    category = link.forum_category_id
    topic = link.forum_topic_id
    return SyncState(
        wiki_title=link.wiki_title,
        wiki_url=page_url(settings, link.wiki_title) if settings["wiki"].get("url") else "",
        forum_category_id=category,
        category_name=link.category_name,
        category_url=f"{forum}/c/{category}" if forum and category is not None else None,
        forum_topic_id=topic,
        topic_url=f"{forum}/t/{topic}" if forum and topic is not None else None,
        written_at=link.updated_at,
        archived_at=link.archived_at,
        forum_text=link.synced_text,
        last_run=last_run(session, link.wiki_title),
    )


def last_run(session: Session, title: str) -> RunRow | None:
    """The newest finished sync run whose scope was everything or named the page, among
    the last ``RUNS_SEARCHED`` (newest first on the primary key)."""
    query = (
        select(SyncRun)
        .where(SyncRun.finished_at.is_not(None))
        .order_by(SyncRun.id.desc())
        .limit(RUNS_SEARCHED)
    )
    for run in session.scalars(query):
        if run.scope == FULL or title in run.scope.split("\n"):
            assert run.finished_at is not None
            return RunRow(run.id, run.trigger, run.finished_at, run.error)
    return None


def open_issues(session: Session, link: PageTopicLink) -> list[IssueRow]:
    """The page's unresolved sync issues (found by title or, after a move, by page id)."""
    query = (
        select(SyncIssue)
        .where(
            SyncIssue.kind.in_(ISSUE_KINDS),
            SyncIssue.resolved_at.is_(None),
            (SyncIssue.wiki_title == link.wiki_title)
            | (SyncIssue.wiki_page_id == link.wiki_page_id),
        )
        .order_by(SyncIssue.id)
    )
    return [
        IssueRow(i.id, i.kind, i.field, i.detail, i.forum_post_id, i.created_at)
        for i in session.scalars(query)
    ]
