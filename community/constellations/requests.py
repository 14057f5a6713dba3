"""The worker's side of the Sync page's buttons: a resync runs the reconcile of the
`sync` command, and a moderator's choice settles a charter post conflict.

The dashboard only records the request (an inbox event); everything that talks to the
wiki or the forum happens here, in the worker, so a slow platform never holds a page.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.constellations.charter import CharterError, parse_charter
from community.constellations.forum_mirror import forum_link, sync_to_forum
from community.constellations.forum_render import render
from community.constellations.leadership import with_lead_since
from community.constellations.models import PageTopicLink, SyncIssue
from community.constellations.sync import sync_constellations
from community.handling import HandlerContext
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient, WikiPage
from core import clock, event_kinds
from core.config import Settings
from core.events import Event
from core.store import Store

KEEP_FORUM, USE_WIKI = "keep_forum", "use_wiki"
CHOICES = (KEEP_FORUM, USE_WIKI)
RESOLVABLE_FIELD = "charter_post"  # the conflicts a choice of side can settle
log = logging.getLogger(__name__)


def resync_event(title: str | None, requested_by: str, *, now: datetime) -> Event:
    """A moderator asked for a reconcile: of one page, or of everything (``title`` None).
    Each request is its own event (a later resync is new work, not a duplicate)."""
    return Event(
        event_id=f"dashboard:resync:{uuid.uuid4().hex}",
        kind=event_kinds.RESYNC_REQUESTED,
        source="community",
        subject=f"page:{title}" if title else "sync:full",
        actor=None,  # requested_by is a person; the actor field would be echo-checked
        occurred_at=now,
        delivery_id=None,
        payload={"title": title, "requested_by": requested_by},
    )


def resolution_event(issue_id: int, choice: str, requested_by: str, *, now: datetime) -> Event:
    if choice not in CHOICES:
        raise ValueError(f"unknown choice {choice!r}")
    return Event(
        event_id=f"dashboard:resolve:{issue_id}:{uuid.uuid4().hex}",
        kind=event_kinds.CONFLICT_RESOLVED,
        source="community",
        subject=f"sync_issue:{issue_id}",
        actor=None,
        occurred_at=now,
        delivery_id=None,
        payload={"issue_id": issue_id, "choice": choice, "requested_by": requested_by},
    )


def is_resolvable(issue: SyncIssue) -> bool:
    """A charter post conflict: keeping either side's text settles it. Other conflicts
    (a forum category name already taken) are settled by changing the wiki page."""
    return issue.kind == "conflict" and issue.field == RESOLVABLE_FIELD


# -- handlers -----------------------------------------------------------------------------


def run_resync(event: Event, ctx: HandlerContext) -> None:
    """The reconcile `constellate sync` runs: ``--full``, or ``--constellation TITLE``."""
    if not ctx.settings.get("forum", {}).get("url"):
        log.warning("resync requested, but no forum is configured: nothing to sync with")
        return
    title = event.payload.get("title") or None
    # The reconcile commits page by page in its own sessions (as the command does); the
    # handler's session stays untouched until the worker marks the event done.
    store = Store(ctx.settings["store"]["url"])
    try:
        summary = sync_constellations(
            store,
            ctx.settings,
            titles=[str(title)] if title else None,
            full=title is None,
            trigger="dashboard",
            requested_by=_requested_by(event),
        )
    finally:
        store.dispose()
    log.info("resync (%s): %s", title or "full", summary.headline())


def apply_resolution(event: Event, ctx: HandlerContext) -> None:
    """Settle a charter post conflict as the moderator chose. Applied once: an issue
    already resolved (by an earlier delivery, or by a sync since) is left alone."""
    issue_id, choice = event.payload.get("issue_id"), event.payload.get("choice")
    issue = ctx.session.get(SyncIssue, issue_id) if isinstance(issue_id, int) else None
    if issue is None or issue.resolved_at is not None:
        return
    if choice not in CHOICES or not is_resolvable(issue):
        log.warning("sync issue %s cannot be resolved by %r", issue_id, choice)
        return
    settled = resolve_conflict(
        issue,
        str(choice),
        session=ctx.session,
        wiki=ctx.wiki(),
        forum=ctx.forum(),
        settings=ctx.settings,
    )
    log.info("sync issue %s (%s): %s", issue.id, choice, settled)


def resolve_conflict(
    issue: SyncIssue,
    choice: str,
    *,
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Settings,
) -> str:
    """Make the chosen side the merge base, then sync the page's forum side at once.

    The merge takes what changed against the base: with the forum's text as the base
    only the wiki changed, so the wiki's render is written (``use_wiki``); with the
    wiki's current render as the base only the forum changed, so the forum's text is
    kept and recorded as what we wrote, and later wiki changes merge into it
    (``keep_forum``). Returns what happened, for the log.
    """
    link = _link(session, issue)
    if link is None or link.forum_post_id is None:
        issue.resolved_at = clock.now()  # nothing on the forum is left to disagree with
        return "no charter post: closed"
    page = _current_page(wiki, issue, link)
    if page is None:
        return "the page is gone or moved: left open for the page's own sync"
    try:
        charter = parse_charter(page.title, page.text)
    except CharterError:
        return "the page's charter is malformed: left open until it is fixed"
    if charter is None:
        return "the page has no charter any more: left open"
    charter = with_lead_since(session, charter, link.wiki_page_id)
    view = render(settings, charter)
    forum_text = forum.get_post(link.forum_post_id).raw or ""
    link.rendered_text = view.post if choice == KEEP_FORUM else forum_text
    link.synced_text = forum_text
    link.synced_hash = None  # write the rest of the forum side (tags, title) as well
    outcome = sync_to_forum(session, forum, settings, page=page, charter=charter)
    if outcome.action == "conflict":
        # The forum post changed again since it was read: a person must look again.
        return "the forum post changed meanwhile: still a conflict"
    if issue.resolved_at is None:
        issue.resolved_at = clock.now()
    session.flush()
    return f"{outcome.action}: {outcome.detail}"


def _link(session: Session, issue: SyncIssue) -> PageTopicLink | None:
    if issue.wiki_page_id is not None:
        return forum_link(session, issue.wiki_page_id)
    query = select(PageTopicLink).where(PageTopicLink.wiki_title == issue.wiki_title)
    return session.scalars(query).first()


def _current_page(wiki: WikiClient, issue: SyncIssue, link: PageTopicLink) -> WikiPage | None:
    """The linked page as it is now, under the issue's title or the link's."""
    titles = list(dict.fromkeys((issue.wiki_title, link.wiki_title)))
    pages = wiki.read_pages(titles)
    for page in pages.values():
        if page.exists and page.pageid == link.wiki_page_id:
            return page
    return None


def _requested_by(event: Event) -> str | None:
    who = event.payload.get("requested_by")
    return str(who) if who else None
