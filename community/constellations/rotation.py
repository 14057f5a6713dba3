"""Rotation drives the forum: when a constellation's lead partner changes (a change seen
in its revision history), the new lead's forum group becomes the moderation group of the
constellation's category and an announcement is posted there, once per change. The charter
post shows the new lead and since when (forum_render, from the timeline), and alerts and
nudges follow the lead named in the charter.

The change followed last is kept per page, so a sync that reads nothing new costs nothing
here, and a change is announced once however often the page is synced. The first time a
constellation is followed its current lead gets the category without an announcement: the
changes before were history, not news.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from community.constellations.charter import Charter, page_url
from community.constellations.forum_render import markdown_text
from community.constellations.leadership import LeadershipChange, latest_change
from community.constellations.models import PageTopicLink, record_issue, resolve_issues
from community.partners.models import Partner
from community.partners.names import Organisations, normalise
from connectors.discourse import ForumClient
from core import forum_budget
from core.models import SyncCursor

SETTING = "enable_category_group_moderation"


def follow_lead(
    session: Session, forum: ForumClient, settings: Any, link: PageTopicLink, charter: Charter
) -> str | None:
    """Bring the forum in line with the page's latest leadership change; returns what was
    done ("moderators", "announced") or None when there was nothing to do."""
    change = latest_change(session, link.wiki_page_id)
    if change is None or link.forum_category_id is None or link.archived_at is not None:
        return None
    cursor = session.get(SyncCursor, _cursor_name(link.wiki_page_id))
    if cursor is not None and cursor.value == str(change.revid):
        return None
    partner = _partner(session, change.lead_partner)
    if partner is None or partner.group_id is None:
        return None  # not a registered partner: its sync issue says so; followed once it is
    with forum_budget.priority("sync"):
        moderators = forum.set_category_moderators(link.forum_category_id, [partner.group_id])
        _note_moderation(session, link, partner, moderators)
        done = "moderators"
        if cursor is not None and _is_new_lead(change):
            _announce(forum, settings, link, charter, change, partner)
            done = "announced"
    session.merge(SyncCursor(name=_cursor_name(link.wiki_page_id), value=str(change.revid)))
    session.flush()
    return done


def _cursor_name(page_id: int) -> str:
    return f"lead-followed:{page_id}"


def _partner(session: Session, name: str) -> Partner | None:
    group = Organisations.read(session).group_of(name)
    return session.get(Partner, group) if group else None


def _is_new_lead(change: LeadershipChange) -> bool:
    """A change of lead, not only of the partner list."""
    previous = change.previous_lead
    return previous is not None and normalise(previous) != normalise(change.lead_partner)


def _note_moderation(
    session: Session, link: PageTopicLink, partner: Partner, moderators: tuple[int, ...] | None
) -> None:
    if moderators is not None and partner.group_id in moderators:
        resolve_issues(
            session, kind="moderation", wiki_title=link.wiki_title, wiki_page_id=link.wiki_page_id
        )
        return
    record_issue(
        session,
        kind="moderation",
        wiki_title=link.wiki_title,
        detail=(
            f"the forum did not make the group {partner.group_name!r} moderate the category: "
            f"turn on the site setting {SETTING} (Admin > Settings) and resync the page"
        ),
        wiki_page_id=link.wiki_page_id,
    )


def _announce(
    forum: ForumClient,
    settings: Any,
    link: PageTopicLink,
    charter: Charter,
    change: LeadershipChange,
    partner: Partner,
) -> None:
    """One topic per change (its external id names the revision): posted again it is
    found, not duplicated."""
    previous = markdown_text(change.previous_lead or "")
    lead = markdown_text(partner.name)
    since = change.timestamp.date().isoformat()
    body = "\n\n".join(
        [
            f"**{lead}** now leads {markdown_text(charter.title)}, taking over from "
            f"**{previous}** on {since}.",
            f"The {markdown_text(partner.group_name)} group moderates this category from now "
            "on, and the constellation's alerts and reminders go to it.",
            f"The change was made on the wiki page [{markdown_text(charter.title)}]"
            f"({page_url(settings, charter.title)}).",
        ]
    )
    forum.create_topic(
        f"{partner.name} now leads {charter.title}"[:255],
        body,
        category_id=link.forum_category_id,
        external_id=f"lead-{link.wiki_page_id}-{change.revid}",
    )
