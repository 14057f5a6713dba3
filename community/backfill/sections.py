"""Every bot section written again once the history is read: the pages show what the
backfill brought (discussions, participants, credit, health) at once, not at the next
post in their category."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.constellations.handlers import refresh_constellation_section
from community.constellations.models import PageTopicLink
from community.partners.section import refresh_partner_sections
from community.practices.models import Practice
from community.practices.section import refresh_practice_section
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient
from core.config import Settings


def refresh_every_section(
    session: Session, settings: Settings, wiki: WikiClient, forum: ForumClient
) -> int:
    """Each live constellation's, practice's and partner's section (a page whose text
    would not change is not written); returns how many were written."""
    links = select(PageTopicLink).where(
        PageTopicLink.archived_at.is_(None), PageTopicLink.forum_topic_id.is_not(None)
    )
    written = sum(
        refresh_constellation_section(session, settings, wiki, forum, link) == "written"
        for link in session.scalars(links.order_by(PageTopicLink.wiki_title)).all()
    )
    practices = select(Practice).where(Practice.deleted_at.is_(None)).order_by(Practice.title)
    written += sum(
        refresh_practice_section(session, wiki, settings, practice) == "written"
        for practice in session.scalars(practices).all()
    )
    return written + refresh_partner_sections(session, wiki, settings)
