"""What the Overview page shows, read from the store only: the constellations with the
headline figures of their latest health snapshot, their pulse, and the open alerts.

Health figures come from the stored snapshots (computed by the health runs), never from
the posts themselves, so the page costs a few indexed reads however big the forum is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, String, func, literal_column, select
from sqlalchemy.orm import Session

from community.constellations.charter import BEAT_DAYS
from community.constellations.models import PageTopicLink
from community.health.models import HealthAlert, HealthSnapshot
from community.health.scope import CONSTELLATION, figure_at
from community.health.summary import SUMMARY_WINDOW
from community.partners.names import Organisations
from core.config import Settings

ALERTS_SHOWN = 100
# The literal (not a bound parameter) lets SQLite use the partial index on open alerts.
OPEN: ColumnClause[str] = literal_column("'open'", String())


# -- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CentreEdge:
    """The centre's announcements answered from the edge, and the replies to the centre."""

    hours: int  # an announcement is answered when someone else replied within these
    announcements: int
    eligible: int  # announcements at least ``hours`` old
    answered_from_edge: int
    answered_rate: float | None
    replies_to_centre: int
    reply_ratio: float | None  # the share of those replies from the edge


@dataclass(frozen=True)
class HealthSummary:
    """The headline figures of one snapshot."""

    day: date
    window_days: int
    computed_at: datetime
    topics: int
    # Counting the topics still waiting (Kaplan–Meier); None before the figure existed or
    # when more than half still wait.
    km_median_first_response_hours: float | None
    median_first_response_hours: float | None  # of the answered topics only
    unanswered_rate: float | None
    two_way_ratio: float | None
    participants: int
    posts: int
    centre_edge: CentreEdge | None  # None in snapshots from before the figure existed


@dataclass(frozen=True)
class Pulse:
    beat: str  # weekly | fortnightly | monthly
    beat_days: int
    beats: list[int]  # posts per beat, oldest first; the last ends at ``ends``
    missed: int
    ends: datetime

    def beat_ends(self) -> list[date]:
        """The day each beat ends on (the last one ends when the snapshot was computed)."""
        count = len(self.beats)
        step = timedelta(days=self.beat_days)
        return [(self.ends - (count - 1 - i) * step).date() for i in range(count)]


@dataclass(frozen=True)
class ConstellationRow:
    page_id: int
    title: str
    status: str | None
    lead_partner: str | None
    archived: bool
    health: HealthSummary | None
    pulse: Pulse | None
    open_alerts: int


@dataclass(frozen=True)
class ConstellationPage:
    rows: list[ConstellationRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class AlertRow:
    id: int
    rule: str
    scope: str
    page_id: int | None  # when the scope is a constellation
    label: str
    metric: str
    window_days: int
    value: float | None
    threshold: float
    message: str
    raised_at: datetime
    updated_at: datetime


# -- windows ---------------------------------------------------------------------------------


def summary_window(settings: Settings) -> int:
    """30 days when configured (as on the wiki's health summary), else the widest."""
    windows = sorted(int(days) for days in settings["health"]["windows"])
    return SUMMARY_WINDOW if SUMMARY_WINDOW in windows else windows[-1]


def widest_window(settings: Settings) -> int:
    return max(int(days) for days in settings["health"]["windows"])


def scope_of(page_id: int) -> str:
    return f"{CONSTELLATION}:{page_id}"


def page_of(scope: str) -> int | None:
    kind, _, ident = scope.partition(":")
    return int(ident) if kind == CONSTELLATION and ident.isdigit() else None


# -- the overview ----------------------------------------------------------------------------


def constellations(
    session: Session, settings: Settings, *, page: int, page_size: int
) -> ConstellationPage:
    """The live constellations by title, one page of them, each with its latest health."""
    live = (PageTopicLink.charter.is_not(None), PageTopicLink.archived_at.is_(None))
    total = session.scalar(select(func.count()).select_from(PageTopicLink).where(*live)) or 0
    links = list(
        session.scalars(
            select(PageTopicLink)
            .where(*live)
            .order_by(PageTopicLink.wiki_title, PageTopicLink.wiki_page_id)
            .limit(page_size)
            .offset((max(page, 1) - 1) * page_size)
        )
    )
    return ConstellationPage(constellation_rows(session, settings, links), total, page, page_size)


def constellation_rows(
    session: Session, settings: Settings, links: Sequence[PageTopicLink]
) -> list[ConstellationRow]:
    scopes = [scope_of(link.wiki_page_id) for link in links]
    summary_days, widest_days = summary_window(settings), widest_window(settings)
    latest = _latest_snapshots(session, scopes, {summary_days, widest_days})
    alert_counts = dict(
        session.execute(
            select(HealthAlert.scope, func.count())
            .where(HealthAlert.state == OPEN, HealthAlert.scope.in_(scopes))
            .group_by(HealthAlert.scope)
        ).all()
    )
    # Pages name a partner by its forum group or its full name: shown by the full name.
    organisations = Organisations.read(session)
    rows = []
    for link, scope in zip(links, scopes, strict=True):
        charter = link.charter or {}
        lead = charter.get("lead_partner")
        summary = latest.get((scope, summary_days))
        widest = latest.get((scope, widest_days))
        rows.append(
            ConstellationRow(
                page_id=link.wiki_page_id,
                title=link.wiki_title,
                status=charter.get("status") or link.charter_status,
                lead_partner=organisations.canonical(str(lead)) if lead else None,
                archived=link.archived_at is not None,
                health=_summary(summary) if summary else None,
                pulse=_pulse(widest, charter) if widest else None,
                open_alerts=int(alert_counts.get(scope, 0)),
            )
        )
    return rows


def _latest_snapshots(
    session: Session, scopes: Sequence[str], windows: set[int]
) -> dict[tuple[str, int], HealthSnapshot]:
    """The newest snapshot of each (scope, window): one probe of the unique
    (scope, window_days, day) index per pair."""
    if not scopes:
        return {}
    newer = HealthSnapshot.__table__.alias("newer")
    newest_day = (
        select(func.max(newer.c.day))
        .where(
            newer.c.scope == HealthSnapshot.scope,
            newer.c.window_days == HealthSnapshot.window_days,
        )
        .scalar_subquery()
    )
    query = select(HealthSnapshot).where(
        HealthSnapshot.scope.in_(scopes),
        HealthSnapshot.window_days.in_(sorted(windows)),
        HealthSnapshot.day == newest_day,
    )
    return {(s.scope, s.window_days): s for s in session.scalars(query)}


def _summary(snapshot: HealthSnapshot) -> HealthSummary:
    values = snapshot.values
    return HealthSummary(
        day=snapshot.day,
        window_days=snapshot.window_days,
        computed_at=snapshot.computed_at,
        topics=int(figure_at(values, "first_response.topics") or 0),
        km_median_first_response_hours=figure_at(values, "first_response.km_median_hours"),
        median_first_response_hours=figure_at(values, "first_response.median_hours"),
        unanswered_rate=figure_at(values, "unanswered.rate"),
        two_way_ratio=figure_at(values, "two_way.ratio"),
        participants=int(figure_at(values, "participation.participants") or 0),
        posts=int(figure_at(values, "participation.posts") or 0),
        centre_edge=_centre_edge(values),
    )


def _centre_edge(values: Mapping[str, Any]) -> CentreEdge | None:
    announcements = figure_at(values, "announcements")
    replies = figure_at(values, "edge_replies")
    if not isinstance(announcements, Mapping) or not isinstance(replies, Mapping):
        return None
    return CentreEdge(
        hours=int(announcements["hours"]),
        announcements=int(announcements["announcements"]),
        eligible=int(announcements["eligible"]),
        answered_from_edge=int(announcements["answered_from_edge"]),
        answered_rate=announcements["rate"],
        replies_to_centre=int(replies["replies_to_centre"]),
        reply_ratio=replies["ratio"],
    )


def _pulse(snapshot: HealthSnapshot, charter: Mapping[str, Any]) -> Pulse | None:
    pulse = figure_at(snapshot.values, "pulse")
    if not isinstance(pulse, Mapping) or not pulse.get("beats"):
        return None
    beat_days = int(pulse["beat_days"])
    beat = str(charter.get("beat") or "")
    if BEAT_DAYS.get(beat) != beat_days:
        beat = next((name for name, days in BEAT_DAYS.items() if days == beat_days), "beat")
    return Pulse(
        beat=beat,
        beat_days=beat_days,
        beats=[int(b) for b in pulse["beats"]],
        missed=int(pulse.get("missed") or 0),
        ends=snapshot.computed_at,
    )


def open_alerts(
    session: Session, *, scope: str | None = None, limit: int = ALERTS_SHOWN, offset: int = 0
) -> tuple[list[AlertRow], int]:
    """The open health alerts, newest first (``limit`` from ``offset``), and how many are
    open in all."""
    where: list[ColumnElement[bool]] = [HealthAlert.state == OPEN]
    if scope is not None:
        where.append(HealthAlert.scope == scope)
    total = session.scalar(select(func.count()).select_from(HealthAlert).where(*where)) or 0
    query = (
        select(HealthAlert)
        .where(*where)
        .order_by(HealthAlert.raised_at.desc(), HealthAlert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = [
        AlertRow(
            id=a.id,
            rule=a.rule,
            scope=a.scope,
            page_id=page_of(a.scope),
            label=a.label,
            metric=a.metric,
            window_days=a.window_days,
            value=a.value,
            threshold=a.threshold,
            message=a.message,
            raised_at=a.raised_at,
            updated_at=a.updated_at,
        )
        for a in session.scalars(query)
    ]
    return rows, int(total)
