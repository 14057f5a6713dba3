"""The bot-owned section of a practice page: where the practice is discussed on the forum,
who adopted it, and who is credited for it.

The section is made of blocks, each a function of the practice, so a feature adds a block
without touching the others; the credits block also takes the wiki's own list of the
page's contributors. It is written only when its text changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape, write_bot_section
from community.credits.credits_section import page_contributors, practice_credits_block
from community.practices.adopters import adoption_lines
from community.practices.models import Practice, PracticeTopic
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiPage
from core.config import Settings

SUMMARY = "Constellate: update the practice section"
HEADING = "== Across the partnership =="
NOTE = (
    "''This section is maintained by Constellate from the forum and the credit ledger and "
    "is rewritten on every sync: please edit above or below it.''"
)

Block = Callable[[Session, Settings, Practice], list[str]]


def discussed_block(session: Session, settings: Settings, practice: Practice) -> list[str]:
    """ "Discussed on the forum": each topic that discusses the practice, newest first."""
    topics = session.scalars(
        select(PracticeTopic)
        .where(PracticeTopic.page_id == practice.page_id, PracticeTopic.removed_at.is_(None))
        .order_by(PracticeTopic.topic_id.desc())
    ).all()
    lines = ["=== Discussed on the forum ==="]
    base = str(settings["forum"].get("url") or "").rstrip("/")
    for topic in topics:
        slug = topic.slug or "-"
        lines.append(f"* [{base}/t/{slug}/{topic.topic_id} {escape(topic.title)}]")
    if not topics:
        lines.append("* No discussions yet.")
    return lines


BLOCKS: tuple[Block, ...] = (discussed_block, adoption_lines)


def render_section(
    session: Session, settings: Settings, practice: Practice, *, contributors: Sequence[str]
) -> str:
    """The text inside the markers: every block, a blank line between them."""
    blocks = [[HEADING, NOTE]] + [block(session, settings, practice) for block in BLOCKS]
    blocks.append(
        practice_credits_block(session, settings, practice, wiki_contributors=contributors)
    )
    return "\n\n".join("\n".join(lines) for lines in blocks)


def refresh_practice_section(
    session: Session,
    wiki: WikiClient,
    settings: Settings,
    practice: Practice,
    *,
    page: WikiPage | None = None,
) -> str:
    """Write the section when its text changed: "written", "unchanged" or "conflict"."""
    if practice.deleted_at is not None:
        return "unchanged"
    return write_bot_section(
        session,
        wiki,
        title=practice.title,
        page_id=practice.page_id,
        inside=render_section(
            session, settings, practice, contributors=page_contributors(wiki, practice.title)
        ),
        summary=SUMMARY,
        page=page,
    )
