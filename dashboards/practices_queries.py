"""Read-only queries behind the Practices page and its API: the registry one page at a
time (adopters and the topics discussing each practice), the adoption picture, and the
suggestions waiting for a moderator with their promotion requests in flight."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.practices.models import (
    Practice,
    PracticeAdoption,
    PracticeSuggestion,
    PracticeTopic,
)
from community.practices.promotion_requests import IN_FLIGHT, subject_of
from core.event_kinds import PROMOTION_REQUESTED
from core.models import InboxEvent

TOPICS_SHOWN = 3  # the latest topics named per practice; the count says how many in all


@dataclass(frozen=True)
class TopicView:
    topic_id: int
    title: str
    url: str  # on the forum ("" when no forum is configured)


@dataclass(frozen=True)
class PracticeView:
    page_id: int
    title: str
    summary: str
    originating_organisation: str
    tag: str
    adopters: list[str]
    topic_count: int
    topics: list[TopicView]  # the latest few
    url: str  # the wiki page


@dataclass(frozen=True)
class Registry:
    rows: list[PracticeView]
    page: int
    has_next: bool
    total: int


@dataclass(frozen=True)
class SuggestionView:
    id: int
    kind: str  # candidate (a forum topic) | stub (a practice tag with no page)
    topic_id: int | None
    tag: str | None
    title: str
    score: float
    reasons: list[str]
    created_at: datetime
    detail: str  # why the last promotion was refused, if it was
    queued: bool  # a promotion request waits for the worker
    url: str  # the forum topic or tag


@dataclass(frozen=True)
class Suggestions:
    rows: list[SuggestionView]
    open_count: int


@dataclass(frozen=True)
class Places:
    """The configured wiki and forum, for links."""

    wiki_index: str
    forum: str

    def page(self, page_id: int) -> str:
        return f"{self.wiki_index}?curid={page_id}" if self.wiki_index else ""

    def topic(self, topic_id: int, slug: str = "") -> str:
        return f"{self.forum}/t/{slug or 'topic'}/{topic_id}" if self.forum else ""

    def tag(self, name: str) -> str:
        return f"{self.forum}/tag/{name}" if self.forum else ""


def places_for(settings: Any) -> Places:
    wiki = settings.get("wiki", {})
    base = str(wiki.get("url") or "").rstrip("/")
    index = f"{base}{wiki.get('script_path') or '/'}index.php" if base else ""
    return Places(index, str(settings.get("forum", {}).get("url") or "").rstrip("/"))


# -- the registry -----------------------------------------------------------------------------


def registry(session: Session, places: Places, *, page: int, page_size: int) -> Registry:
    """One page of live practices by title, with who adopted each and where it is discussed."""
    live = Practice.deleted_at.is_(None)
    found = list(
        session.scalars(
            select(Practice)
            .where(live)
            .order_by(Practice.title, Practice.page_id)
            .offset((page - 1) * page_size)
            .limit(page_size + 1)
        )
    )
    shown = found[:page_size]
    ids = [p.page_id for p in shown]
    adopters = _adopters(session, ids)
    counts, latest = _topics(session, places, ids)
    total = session.scalar(select(func.count()).select_from(Practice).where(live))
    rows = [
        PracticeView(
            page_id=p.page_id,
            title=p.title,
            summary=p.summary,
            originating_organisation=p.originating_organisation,
            tag=p.tag,
            adopters=adopters.get(p.page_id, []),
            topic_count=counts.get(p.page_id, 0),
            topics=latest.get(p.page_id, []),
            url=places.page(p.page_id),
        )
        for p in shown
    ]
    return Registry(rows, page, len(found) > page_size, int(total or 0))


def _adopters(session: Session, page_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if not page_ids:
        return found
    query = (
        select(PracticeAdoption.page_id, PracticeAdoption.organisation)
        .where(PracticeAdoption.page_id.in_(page_ids), PracticeAdoption.withdrawn_at.is_(None))
        .order_by(PracticeAdoption.page_id, func.lower(PracticeAdoption.organisation))
    )
    for page_id, organisation in session.execute(query):
        found[page_id].append(organisation)
    return found


def _topics(
    session: Session, places: Places, page_ids: list[int]
) -> tuple[dict[int, int], dict[int, list[TopicView]]]:
    """How many topics discuss each practice, and the latest few of them."""
    if not page_ids:
        return {}, {}
    current = (PracticeTopic.page_id.in_(page_ids), PracticeTopic.removed_at.is_(None))
    counts = {
        page_id: int(n)
        for page_id, n in session.execute(
            select(PracticeTopic.page_id, func.count())
            .where(*current)
            .group_by(PracticeTopic.page_id)
        )
    }
    newest = func.row_number().over(
        partition_by=PracticeTopic.page_id,
        order_by=(PracticeTopic.found_at.desc(), PracticeTopic.id.desc()),
    )
    numbered = (
        select(
            PracticeTopic.page_id,
            PracticeTopic.topic_id,
            PracticeTopic.title,
            PracticeTopic.slug,
            newest.label("n"),
        )
        .where(*current)
        .subquery()
    )
    latest: dict[int, list[TopicView]] = defaultdict(list)
    query = (
        select(numbered.c.page_id, numbered.c.topic_id, numbered.c.title, numbered.c.slug)
        .where(numbered.c.n <= TOPICS_SHOWN)
        .order_by(numbered.c.page_id, numbered.c.n)
    )
    for page_id, topic_id, title, slug in session.execute(query):
        latest[page_id].append(TopicView(topic_id, title, places.topic(topic_id, slug)))
    return counts, latest


def adoption_cells(
    rows: Iterable[PracticeView],
) -> tuple[list[str], list[str], set[tuple[str, str]]]:
    """The adoption picture of a page of practices: (practice titles, organisations,
    adopted pairs). Originating organisations are columns too, so a practice nobody else
    took up shows as a row of gaps beside its own organisation's column."""
    practices = list(rows)
    organisations: dict[str, str] = {}
    for practice in practices:
        for name in (*practice.adopters, practice.originating_organisation):
            if name.strip():
                organisations.setdefault(name.casefold(), name)
    columns = sorted(organisations.values(), key=str.casefold)
    cells = {
        (p.title, organisations[name.casefold()])
        for p in practices
        for name in p.adopters
        if name.strip()
    }
    return [p.title for p in practices], columns, cells


# -- suggestions ------------------------------------------------------------------------------


def open_suggestions(session: Session, places: Places, *, limit: int) -> Suggestions:
    """The best ``limit`` open suggestions (as ``candidates.open_suggestions`` orders
    them), each marked when a promotion request for it is waiting for the worker."""
    is_open = PracticeSuggestion.state == "open"
    found = list(
        session.scalars(
            select(PracticeSuggestion)
            .where(is_open)
            .order_by(PracticeSuggestion.score.desc(), PracticeSuggestion.id)
            .limit(limit)
        )
    )
    queued = queued_promotions(session, [s.id for s in found])
    total = session.scalar(select(func.count()).select_from(PracticeSuggestion).where(is_open))
    rows = [
        SuggestionView(
            id=s.id,
            kind=s.kind,
            topic_id=s.topic_id,
            tag=s.tag,
            title=s.title,
            score=s.score,
            reasons=[str(r) for r in s.reasons or []],
            created_at=s.created_at,
            detail=s.detail or "",
            queued=s.id in queued,
            url=places.topic(s.topic_id) if s.topic_id else places.tag(s.tag or ""),
        )
        for s in found
    ]
    return Suggestions(rows, int(total or 0))


def queued_promotions(session: Session, suggestion_ids: Iterable[int]) -> set[int]:
    """Which of the suggestions have a promotion request the worker has not finished."""
    subjects = {subject_of(i): i for i in suggestion_ids}
    if not subjects:
        return set()
    query = select(InboxEvent.subject).where(
        InboxEvent.kind == PROMOTION_REQUESTED,
        InboxEvent.state.in_(IN_FLIGHT),
        InboxEvent.subject.in_(subjects),
    )
    return {subjects[s] for s in session.scalars(query)}
