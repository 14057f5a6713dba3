"""Who adopted a practice, as the store keeps it: the rows, the form organisations are
compared in, and the practice section's "Adopted by" block."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape
from community.practices.models import Practice, PracticeAdoption


def normalise(organisation: str) -> str:
    """The form organisations are compared in: case and whitespace runs do not count."""
    return " ".join(organisation.split()).casefold()


def adoptions_of(session: Session, page_id: int) -> list[PracticeAdoption]:
    """Every adoption row of the practice, withdrawn ones too, in the order recorded."""
    query = select(PracticeAdoption).where(PracticeAdoption.page_id == page_id)
    return list(session.scalars(query.order_by(PracticeAdoption.id)))


def adoption_lines(session: Session, settings: Any, practice: Practice) -> list[str]:
    """The practice page section's "Adopted by" block: organisations other than the
    originating one, oldest adoption first."""
    origin = normalise(practice.originating_organisation)
    rows = [
        row
        for row in adoptions_of(session, practice.page_id)
        if row.withdrawn_at is None and normalise(row.organisation) != origin
    ]
    rows.sort(key=lambda row: (row.adopted_at, normalise(row.organisation)))
    lines = ["=== Adopted by ==="]
    lines += [
        f"* {escape(row.organisation)} (since {row.adopted_at.date().isoformat()})" for row in rows
    ] or ["* Not adopted elsewhere yet."]
    return lines
