"""The bot-owned section of a partner page: the partner as the forum and the other pages
see it (its group and how many people belong to it, the constellations it leads and is
in). Written when its text changes: after the page's sync and after each full read of the
partner groups' members."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.bot_section import escape, write_bot_section
from community.constellations.models import PageTopicLink
from community.credits.models import Person
from community.partners.models import Partner
from community.partners.names import Organisations
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiPage
from core.config import Settings

SUMMARY = "Constellate: update the partner section"
HEADING = "== In the partnership =="
NOTE = (
    "''This section is maintained by Constellate from the forum and the constellation "
    "pages and is rewritten on every sync: please edit above or below it.''"
)


def render_section(session: Session, settings: Settings, partner: Partner) -> str:
    base = str(settings["forum"].get("url") or "").rstrip("/")
    people = session.scalar(
        select(func.count()).select_from(Person).where(Person.organisation == partner.name)
    )
    group = f"[{base}/g/{quote(partner.group_name)} {escape(partner.group_name)}]"
    lines = [HEADING, NOTE, "", f"Forum group: {group}; {int(people or 0)} people belong to it."]
    leads, member = _constellations(session, partner)
    lines += ["", "=== Constellations ===", "Leads:"]
    lines += [f"* [[{title}]]" for title in leads] or ["* None at the moment."]
    lines.append("Partner in:")
    lines += [f"* [[{title}]]" for title in member] or ["* None at the moment."]
    return "\n".join(lines)


def refresh_partner_section(
    session: Session,
    wiki: WikiClient,
    settings: Settings,
    partner: Partner,
    *,
    page: WikiPage | None = None,
) -> str:
    """Write the section when its text changed: "written", "unchanged" or "conflict"."""
    if partner.retired_at is not None or partner.page_id is None or not partner.wiki_title:
        return "unchanged"
    return write_bot_section(
        session,
        wiki,
        title=partner.wiki_title,
        page_id=partner.page_id,
        inside=render_section(session, settings, partner),
        summary=SUMMARY,
        page=page,
    )


def refresh_partner_sections(session: Session, wiki: WikiClient, settings: Settings) -> int:
    """Every live partner's section; returns how many were written."""
    partners = session.scalars(select(Partner).where(Partner.retired_at.is_(None))).all()
    return sum(
        refresh_partner_section(session, wiki, settings, partner) == "written"
        for partner in partners
    )


def _constellations(session: Session, partner: Partner) -> tuple[list[str], list[str]]:
    """The live constellations it leads, and those it is a partner in (leads included),
    by title, from the charters the store keeps."""
    names = Organisations.read(session)
    leads, member = [], []
    live = select(PageTopicLink).where(
        PageTopicLink.charter.is_not(None), PageTopicLink.archived_at.is_(None)
    )
    for link in session.scalars(live.order_by(PageTopicLink.wiki_title)):
        charter = link.charter or {}
        if names.canonical(str(charter.get("lead_partner") or "")) == partner.name:
            leads.append(link.wiki_title)
        partners = {names.canonical(str(p)) for p in charter.get("partners") or []}
        if partner.name in partners:
            member.append(link.wiki_title)
    return leads, member
