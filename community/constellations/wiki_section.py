"""What the bot-owned section of a constellation's wiki page shows (written by
``bot_section``).

Recent discussions and active participants come from what the event handlers keep: the
category's posts (``ForumPostActivity``), the topics' titles (``ForumTopic``) and people's
organisations (``Person``). The forum is asked only for the title of a topic from before
the service, once; the forum's budget is for the work people wait on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, ForumTopic, upsert_topic
from community.bot_section import escape, write_bot_section
from community.constellations.charter import Charter
from community.constellations.models import PageTopicLink, SyncIssue
from community.credits.credits_section import credits_block, page_contributors
from community.credits.models import Account, Person
from community.credits.rules import is_excluded, load_rules
from community.health.scope import CONSTELLATION
from community.health.summary import health_lines
from connectors.discourse import ForumClient
from connectors.mediawiki import EditResult, WikiClient
from connectors.mediawiki.records import WikiPage
from core import clock
from core.errors import NotFound
from core.models import SyncCursor

NOTE = (
    "''This section is maintained by Constellate from the forum and is rewritten on "
    "every sync: please edit above or below it.''"
)
SUMMARY = "Constellate: update the forum section"
# The sync issues a page's section shows: problems its editors can fix on the page.
PAGE_ISSUES = ("unknown_partner",)
ISSUE_LABEL = "'''Sync issue:'''"  # bold in wikitext
# Accounts whose posts are Constellate's own (the charter topic), not participation.
SYSTEM_USERS = {"system"}


@dataclass(frozen=True)
class Discussion:
    topic_id: int
    title: str
    url: str
    started: datetime


@dataclass(frozen=True)
class Participant:
    username: str
    organisations: tuple[str, ...]
    opted_out: bool = False  # counted, never named


def update_wiki_section(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Any,
    *,
    charter: Charter,
    link: PageTopicLink,
    dry_run: bool = False,
    page: WikiPage | None = None,
    on_saved: Callable[[EditResult], None] | None = None,
) -> str:
    """Write the section on the charter's page: "written", "unchanged" or "conflict".

    ``page``, when the caller already read it (a batched sync), saves a read when the
    section is unchanged; a write still goes through ``apply``, which reads afresh.
    ``on_saved`` is given the edit when one is saved.

    "conflict": a person's edit inside the markers was moved above them, or the page
    kept changing under us for three tries (nothing written; the next sync retries).
    """
    contributors = page_contributors(wiki, charter.title)
    credits = credits_block(session, settings, scopes=_scopes(link), wiki_contributors=contributors)
    health = health_lines(session, f"{CONSTELLATION}:{link.wiki_page_id}")
    inside = render_inside(
        settings,
        link,
        recent_discussions(session, forum, settings, link),
        active_participants(session, forum, settings, link),
        credits,
        health,
        issues=page_issues(session, link.wiki_page_id),
    )
    outcome = write_bot_section(
        session,
        wiki,
        title=charter.title,
        page_id=link.wiki_page_id,
        inside=inside,
        summary=SUMMARY,
        dry_run=dry_run,
        page=page,
        on_saved=on_saved,
    )
    if outcome != "conflict" and not dry_run:
        _mark_shown(session, link.wiki_page_id, figures_digest(session, settings, link, health))
    return outcome


# -- what the section last showed of the figures -----------------------------------------


def figures_digest(
    session: Session, settings: Any, link: PageTopicLink, health: Sequence[str] | None = None
) -> str:
    """A digest of the health summary, the credit and the sync issues the section shows
    for ``link``, from the store alone: when it differs from the one last written, the
    section is behind."""
    lines = [
        *(health or health_lines(session, f"{CONSTELLATION}:{link.wiki_page_id}")),
        *credits_block(session, settings, scopes=_scopes(link), wiki_contributors=()),
        *page_issues(session, link.wiki_page_id),
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def figures_shown(session: Session, page_id: int) -> str | None:
    cursor = session.get(SyncCursor, _shown_name(page_id))
    return cursor.value if cursor is not None else None


def _mark_shown(session: Session, page_id: int, digest: str) -> None:
    session.merge(SyncCursor(name=_shown_name(page_id), value=digest))


def _shown_name(page_id: int) -> str:
    return f"section-figures:{page_id}"


def _scopes(link: PageTopicLink) -> list[str]:
    scopes = [f"page:{link.wiki_page_id}"]
    if link.forum_category_id is not None:
        scopes.append(f"category:{link.forum_category_id}")
    return scopes


# -- what the section shows -----------------------------------------------------------


def recent_discussions(
    session: Session, forum: ForumClient, settings: Any, link: PageTopicLink
) -> list[Discussion]:
    """The newest topics in the category (the charter topic aside), newest first. Titles
    come from the store; only a topic no webhook or poll has named (older than the
    service) is asked of the forum, once."""
    if link.forum_category_id is None:
        return []
    limit = int(settings["constellations"]["recent_topics"])
    started = func.min(ForumPostActivity.created_at)
    query = (
        select(ForumPostActivity.topic_id, started, ForumTopic.title, ForumTopic.slug)
        .outerjoin(ForumTopic, ForumTopic.topic_id == ForumPostActivity.topic_id)
        .where(
            ForumPostActivity.category_id == link.forum_category_id,
            ForumPostActivity.deleted.is_(False),
        )
        .group_by(ForumPostActivity.topic_id, ForumTopic.title, ForumTopic.slug)
        .order_by(started.desc(), ForumPostActivity.topic_id.desc())
    )
    if link.forum_topic_id is not None:
        query = query.where(ForumPostActivity.topic_id != link.forum_topic_id)
    base = str(settings["forum"]["url"]).rstrip("/")
    found: list[Discussion] = []
    for topic_id, first, title, slug in session.execute(query.limit(limit)):
        if title is None:
            try:
                topic = forum.get_topic(topic_id)
            except NotFound:  # deleted or hidden since: not a discussion to point to
                continue
            title, slug = topic.title, topic.slug or ""
            upsert_topic(session, topic_id, title, slug, clock.now())
        url = f"{base}/t/{slug or 'topic'}/{topic_id}"
        found.append(Discussion(topic_id, title, url, first))
    return found


def active_participants(
    session: Session, forum: ForumClient, settings: Any, link: PageTopicLink
) -> list[Participant]:
    """Everyone who posted in the category within ``participant_days``, by name, with
    the organisation the store holds for them. Bots, our own accounts and the credit
    rules' excluded accounts are left out, as the health metrics leave them out."""
    if link.forum_category_id is None:
        return []
    days = int(settings["constellations"]["participant_days"])
    since = clock.now() - timedelta(days=days)
    query = (
        select(ForumPostActivity.username)
        .where(
            ForumPostActivity.category_id == link.forum_category_id,
            ForumPostActivity.deleted.is_(False),
            ForumPostActivity.created_at >= since,
        )
        .distinct()
    )
    ours = {name.lower() for name in SYSTEM_USERS | {forum.username}}
    posters = {n for n in session.scalars(query) if n.lower() not in ours}
    bots = _bots(session, posters)
    rules = load_rules(settings)
    names = sorted(
        (n for n in posters if not is_excluded(rules, settings, "forum", n, is_bot=n in bots)),
        key=str.lower,
    )
    known = organisations(session, names)
    hidden = opted_out(session, names)
    return [
        Participant(name, known.get(name.casefold(), ()), name.casefold() in hidden)
        for name in names
    ]


def _bots(session: Session, usernames: set[str]) -> set[str]:
    """The forum accounts among ``usernames`` that the store knows to be bots."""
    if not usernames:
        return set()
    found = session.scalars(
        select(Account.username).where(
            Account.platform == "forum",
            Account.is_bot.is_(True),
            Account.username.in_(sorted(usernames)),
        )
    )
    return set(found)


def organisations(session: Session, usernames: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """casefolded forum username -> the partner organisation the store holds for them."""
    if not usernames:
        return {}
    rows = session.execute(
        select(Account.username, Person.organisation)
        .join(Person, Person.id == Account.person_id)
        .where(
            Account.platform == "forum",
            func.lower(Account.username).in_([name.lower() for name in usernames]),
            Person.organisation.is_not(None),
        )
    )
    return {username.casefold(): (str(organisation),) for username, organisation in rows}


def opted_out(session: Session, usernames: Sequence[str]) -> set[str]:
    """The casefolded forum usernames among ``usernames`` whose person opted out."""
    if not usernames:
        return set()
    rows = session.scalars(
        select(Account.username)
        .join(Person, Person.id == Account.person_id)
        .where(
            Account.platform == "forum",
            func.lower(Account.username).in_([name.lower() for name in usernames]),
            Person.opted_out.is_(True),
        )
    )
    return {username.casefold() for username in rows}


def page_issues(session: Session, page_id: int) -> list[str]:
    """What a person must fix on the page for the sync to be whole (a partner named that
    is not registered), as the dashboard shows it."""
    query = (
        select(SyncIssue.detail)
        .where(
            SyncIssue.wiki_page_id == page_id,
            SyncIssue.kind.in_(PAGE_ISSUES),
            SyncIssue.resolved_at.is_(None),
        )
        .order_by(SyncIssue.id)
    )
    return list(session.scalars(query))


def render_inside(
    settings: Any,
    link: PageTopicLink,
    discussions: list[Discussion],
    participants: list[Participant],
    credits: Sequence[str],
    health: Sequence[str],
    *,
    issues: Sequence[str] = (),
) -> str:
    """The wikitext between the markers: the same inputs always give the same text."""
    days = int(settings["constellations"]["participant_days"])
    lines = ["== On the forum ==", NOTE, ""]
    if issues:
        lines += [f"* {ISSUE_LABEL} {escape(issue)}" for issue in issues] + [""]
    if link.forum_category_id is not None:
        base = str(settings["forum"]["url"]).rstrip("/")
        lines += [f"[{base}/c/{link.forum_category_id} The constellation's forum category]", ""]
    lines.append("=== Recent discussions ===")
    lines += [
        f"* [{d.url} {escape(d.title)}] (started {d.started.date().isoformat()})"
        for d in discussions
    ] or ["* No discussions yet."]
    lines += ["", "=== Active participants ===", f"Posted in the last {days} days:"]
    named = [person for person in participants if not person.opted_out]
    for person in named:
        where = ", ".join(escape(o) for o in person.organisations) or "no partner organisation"
        lines.append(f"* {escape(person.username)} ({where})")
    hidden = len(participants) - len(named)
    if hidden:
        noun = "person who posted" if hidden == 1 else "people who posted"
        more = "And " if named else ""
        lines.append(f"* {more}{hidden} {'more ' if named else ''}{noun} asked not to be listed.")
    if not participants:
        lines.append("* No one yet.")
    lines += ["", *credits]
    lines += ["", "=== Health ===", *health]
    return "\n".join(lines)
