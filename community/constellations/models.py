"""Constellation sync state (tables): each charter page's link to its forum category and
topic, and the conflicts recorded for moderators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime

# error: the platform refused this page; partner: a partner page and the forum disagree
# (its group renamed there); unknown_partner: a constellation names no registered partner;
# moderation: the forum did not let the lead partner's group moderate the category
ISSUE_KINDS = ("malformed", "conflict", "error", "partner", "unknown_partner", "moderation")


class PageTopicLink(Base):
    """One wiki page joined to its forum category and charter topic.

    ``external_id`` is the Discourse topic external_id (<= 50 chars, [\\w-]+)
    that makes topic creation happen exactly once; ``synced_text`` is the
    last text written to the forum; ``synced_hash`` covers everything written (post,
    title, category, tags, topic state), so an unchanged hash means no forum writes.
    """

    __tablename__ = "page_topic_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki_page_id: Mapped[int] = mapped_column(Integer, unique=True)
    wiki_title: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(50), unique=True)
    forum_category_id: Mapped[int | None] = mapped_column(Integer)
    forum_topic_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    forum_post_id: Mapped[int | None] = mapped_column(Integer)
    synced_hash: Mapped[str | None] = mapped_column(String(64))
    synced_text: Mapped[str | None] = mapped_column(Text)
    # What the wiki last rendered (the merge base: human edits merged into synced_text
    # earlier must survive later wiki changes), the category name and status last written.
    rendered_text: Mapped[str | None] = mapped_column(Text)
    category_name: Mapped[str | None] = mapped_column(String(50))
    charter_status: Mapped[str | None] = mapped_column(String(16))
    # The charter as last synced (community.constellations.charter.charter_record): what the health
    # metrics need (lead partner, stewards, beat, term end) without reading the wiki.
    charter: Mapped[dict[str, Any] | None] = mapped_column(Payload)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)


class SyncIssue(Base):
    """A problem a person must look at: a malformed charter or an unmergeable edit.

    At most one open issue per (kind, wiki_title, field); resolving sets ``resolved_at``
    and keeps the row as history.
    """

    __tablename__ = "sync_issues"
    __table_args__ = (Index("ix_sync_issues_open", "kind", "wiki_title", "resolved_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    wiki_title: Mapped[str] = mapped_column(String(255))
    wiki_page_id: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    forum_post_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def record_issue(
    session: Session,
    *,
    kind: str,
    wiki_title: str,
    detail: str,
    field: str | None = None,
    wiki_page_id: int | None = None,
    forum_post_id: int | None = None,
) -> None:
    """Open an issue, or refresh the detail of the one already open for the same key."""
    if kind not in ISSUE_KINDS:
        raise ValueError(f"unknown sync issue kind {kind!r}")
    query = select(SyncIssue).where(
        SyncIssue.kind == kind,
        SyncIssue.wiki_title == wiki_title,
        SyncIssue.resolved_at.is_(None),
        SyncIssue.field.is_(None) if field is None else SyncIssue.field == field,
    )
    issue = session.scalars(query).first()
    if issue is None:
        issue = SyncIssue(kind=kind, wiki_title=wiki_title, field=field)
        session.add(issue)
    issue.detail = detail
    if wiki_page_id is not None:
        issue.wiki_page_id = wiki_page_id
    if forum_post_id is not None:
        issue.forum_post_id = forum_post_id
    session.flush()


def record_malformed(session: Session, *, title: str, page_id: int | None, error: Any) -> None:
    """The "malformed" issue of a page whose template a parser refused: ``error`` says
    which field and what is wrong (CharterError, PracticeError, PartnerError)."""
    record_issue(
        session,
        kind="malformed",
        wiki_title=title,
        detail=error.problem,
        field=error.field,
        wiki_page_id=page_id,
    )


def resolve_issues(
    session: Session, *, kind: str, wiki_title: str, wiki_page_id: int | None = None
) -> int:
    """Close every open issue of ``kind`` for the page, found by its title or (so an
    issue recorded before a move closes too) its page id; returns how many."""
    page = SyncIssue.wiki_title == wiki_title
    if wiki_page_id is not None:
        page = or_(page, SyncIssue.wiki_page_id == wiki_page_id)
    query = select(SyncIssue).where(SyncIssue.kind == kind, page, SyncIssue.resolved_at.is_(None))
    issues = list(session.scalars(query))
    now = clock.now()
    for issue in issues:
        issue.resolved_at = now
    session.flush()
    return len(issues)


def open_issues(session: Session) -> list[SyncIssue]:
    """Every unresolved issue, oldest first."""
    query = select(SyncIssue).where(SyncIssue.resolved_at.is_(None)).order_by(SyncIssue.id)
    return list(session.scalars(query))
