"""Wiki → forum: each constellation's category and charter topic, kept in step with its page.

The charter topic is created exactly once (Discourse ``external_id`` ``wiki-<pageid>``);
later syncs write only when the rendered forum side (``ForumView.hash``) changed, so an
unchanged page costs no forum request at all. A person's edit to the charter post on the
forum is three-way merged with the wiki's change; when the two collide a "conflict" issue
is recorded and neither side is written. Deleting a page archives the forum side; nothing
on the forum is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.constellations.charter import Charter, charter_record
from community.constellations.forum_render import STATUS_TAG_PREFIX as STATUS_TAG
from community.constellations.forum_render import ForumView, render
from community.constellations.models import PageTopicLink, record_issue, resolve_issues
from community.post_merge import merge_post
from connectors.discourse import ForumClient
from connectors.discourse.records import Category
from connectors.mediawiki import WikiPage
from core import clock, event_kinds
from core.errors import InvalidRequest
from core.events import Event
from core.inbox import record

ACTIONS = (
    "created",
    "updated",
    "unchanged",
    "merged",
    "conflict",
    "renamed",
    "archived",
    "restored",
    "skipped",
)
FULL_ACCESS, READ_ONLY = 1, 3  # Discourse category permission types
EDIT_REASON = "Synced from the wiki page"


@dataclass(frozen=True)
class ForumOutcome:
    action: str  # one of ACTIONS
    detail: str = ""


def forum_link(session: Session, page_id: int) -> PageTopicLink | None:
    return session.scalars(
        select(PageTopicLink).where(PageTopicLink.wiki_page_id == page_id)
    ).first()


def external_id(page_id: int) -> str:
    return f"wiki-{page_id}"


def sync_to_forum(
    session: Session,
    forum: ForumClient,
    settings: Any,
    *,
    page: WikiPage,
    charter: Charter | None,
    dry_run: bool = False,
) -> ForumOutcome:
    """Bring the forum side of one constellation page in line with the page."""
    link = _find_link(session, page)
    if not page.exists:
        if link is None or link.archived_at is not None:
            return ForumOutcome("skipped", "deleted page with nothing live on the forum")
        return _archive(forum, link, dry_run)
    if charter is None or page.pageid is None:
        return ForumOutcome("skipped", "no {{Constellation}} on the page")
    view = render(settings, charter)
    if link is None:
        return _create(session, forum, page.pageid, charter, view, dry_run)
    restoring = link.archived_at is not None
    renamed = link.wiki_title != page.title
    if link.synced_hash == view.hash and not restoring and not renamed:
        if not dry_run:
            link.charter = charter_record(charter)  # fields the forum post does not show
        return ForumOutcome("unchanged")
    read_only_on_sunset = bool(settings["constellations"]["read_only_on_sunset"])
    return _update(
        session,
        forum,
        link,
        page.pageid,
        charter,
        view,
        restoring,
        dry_run,
        read_only_on_sunset,
        page.revid,
    )


def _find_link(session: Session, page: WikiPage) -> PageTopicLink | None:
    if page.pageid is not None:
        link = forum_link(session, page.pageid)
        if link is not None:
            return link
    # A deleted page has no id any more; a restored one may come back under a new id.
    query = select(PageTopicLink).where(PageTopicLink.wiki_title == page.title)
    if page.exists:
        query = query.where(PageTopicLink.archived_at.is_not(None))
    return session.scalars(query.order_by(PageTopicLink.id.desc())).first()


# -- creation ------------------------------------------------------------------------------


def _create(
    session: Session,
    forum: ForumClient,
    page_id: int,
    charter: Charter,
    view: ForumView,
    dry_run: bool,
) -> ForumOutcome:
    categories = _Categories(forum, session)
    parent = categories.find(view.parent_category, None)
    existing = categories.find(view.category_name, parent.id if parent else None)
    if existing is not None and categories.linked_elsewhere(existing.id, page_id):
        return _category_taken(session, charter, page_id, view, dry_run)
    if dry_run:
        return ForumOutcome("created", f"would create {view.category_name!r} and its charter")
    parent_id = parent.id if parent else forum.create_category(view.parent_category).id
    category_id = (
        existing.id
        if existing is not None
        else forum.create_category(
            view.category_name, parent_id=parent_id, description=view.category_description
        ).id
    )
    made = forum.create_topic(
        view.topic_title,
        view.post,
        category_id=category_id,
        external_id=external_id(page_id),
        tags=view.tags,
    )
    post_id = made.post_id
    if post_id is None:  # created by an earlier attempt whose link was never stored
        post_id = _adopt(session, forum, made.topic_id, page_id, charter, view)
    if view.closed:
        forum.set_topic_status(made.topic_id, "closed", True)
    if view.read_only:
        _set_read_only(forum, category_id, True)
    link = PageTopicLink(
        wiki_page_id=page_id,
        external_id=external_id(page_id),
        forum_category_id=category_id,
        forum_topic_id=made.topic_id,
        forum_post_id=post_id,
    )
    session.add(link)
    _remember(link, charter, view, view.post)
    session.flush()
    return ForumOutcome("created", f"category {view.category_name!r}, topic {made.topic_id}")


def _adopt(
    session: Session,
    forum: ForumClient,
    topic_id: int,
    page_id: int,
    charter: Charter,
    view: ForumView,
) -> int:
    """Take over a charter topic made before our link was stored (a rolled-back run, a
    rebuilt store). Whether its text is an older render of ours or a person's edit is
    unknowable, so the forum's words and tags are kept: the link records our render as
    what we last wrote, which makes the forum text an edit that later wiki changes merge
    into, and moderators are told."""
    topic = forum.get_topic(topic_id)
    first = topic.posts[0]
    if (first.raw or "").strip() != view.post.strip():
        record_issue(
            session,
            kind="conflict",
            wiki_title=charter.title,
            field="charter_post",
            detail="an existing charter topic was taken over; its text differs from the "
            "wiki's and was kept",
            wiki_page_id=page_id,
            forum_post_id=first.id,
        )
    kept = [tag for tag in topic.tags if not tag.startswith(STATUS_TAG)]
    if sorted([*kept, *view.tags]) != sorted(topic.tags):
        forum.update_topic(topic_id, tags=[*kept, *view.tags])
    return first.id


def _category_taken(
    session: Session,
    charter: Charter,
    page_id: int,
    view: ForumView,
    dry_run: bool,
    reason: str = "it already belongs to another constellation",
) -> ForumOutcome:
    detail = f"forum category {view.category_name!r}: {reason}"
    if not dry_run:
        record_issue(
            session,
            kind="conflict",
            wiki_title=charter.title,
            field="forum_category",
            detail=detail,
            wiki_page_id=page_id,
        )
    return ForumOutcome("conflict", detail)


# -- updates -------------------------------------------------------------------------------


def _update(
    session: Session,
    forum: ForumClient,
    link: PageTopicLink,
    page_id: int,
    charter: Charter,
    view: ForumView,
    restoring: bool,
    dry_run: bool,
    read_only_on_sunset: bool,
    revid: int | None = None,
) -> ForumOutcome:
    assert link.forum_topic_id is not None and link.forum_post_id is not None
    post = _merged_post(forum, link, view)
    if post.text is None:
        detail = "the charter post was edited on the forum and the edit collides with the wiki's"
        if not dry_run:
            record_issue(
                session,
                kind="conflict",
                wiki_title=charter.title,
                field="charter_post",
                detail=detail,
                wiki_page_id=page_id,
                forum_post_id=link.forum_post_id,
            )
        return ForumOutcome("conflict", detail)
    action = _action(link, charter, restoring, post.human_edit)
    if dry_run:
        return ForumOutcome(action, "dry run: nothing written")
    if link.forum_category_id is not None and (
        link.category_name != view.category_name or link.synced_hash is None
    ):
        try:  # first, so a refused name leaves the forum untouched
            forum.update_category(
                link.forum_category_id,
                name=view.category_name,
                description=view.category_description,
            )
        except InvalidRequest as exc:
            return _category_taken(session, charter, page_id, view, dry_run, str(exc))
    if restoring:
        forum.set_topic_status(link.forum_topic_id, "archived", False)
    if post.text.strip() != post.forum_raw.strip():
        forum.update_post(link.forum_post_id, post.text, edit_reason=EDIT_REASON)
    _update_topic_fields(forum, link, charter, view)
    was_closed = link.charter_status == "sunset" and not restoring
    if view.closed != was_closed or restoring:
        forum.set_topic_status(link.forum_topic_id, "closed", view.closed)
    # Permissions are touched only when we restrict, or lift a restriction we made:
    # a category moderators restricted themselves must never be opened by us.
    we_restricted = was_closed and read_only_on_sunset
    if link.forum_category_id is not None and (view.read_only or we_restricted):
        _set_read_only(forum, link.forum_category_id, view.read_only)
    link.wiki_page_id = page_id
    link.archived_at = None
    if link.charter_status is not None and link.charter_status != charter.status:
        _record_status_change(session, page_id, charter, link.charter_status, revid)
    _remember(link, charter, view, post.text)
    resolve_issues(session, kind="conflict", wiki_title=charter.title, wiki_page_id=page_id)
    session.flush()
    return ForumOutcome(action, _describe(link, view))


def _record_status_change(
    session: Session, page_id: int, charter: Charter, old_status: str, revid: int | None
) -> None:
    """Tell automation rules (through the inbox) that the constellation's status changed.
    The revision names the change, so a retried sync records it once."""
    now = clock.now()
    change = str(revid) if revid is not None else now.isoformat()
    payload: dict[str, Any] = {
        "page_id": page_id,
        "title": charter.title,
        "old_status": old_status,
        "new_status": charter.status,
    }
    if revid is not None:
        payload["revid"] = revid
    event = Event(
        event_id=f"community:status:{page_id}:{change}:{charter.status}",
        kind=event_kinds.STATUS_CHANGED,
        source="community",
        subject=f"constellation:{page_id}",
        actor=None,
        occurred_at=now,
        delivery_id=None,
        payload=payload,
    )
    record(session, event)


def _update_topic_fields(
    forum: ForumClient, link: PageTopicLink, charter: Charter, view: ForumView
) -> None:
    """Send the title only on a rename and the tags only on a status change, keeping
    every tag people or other automations put on the topic (tags[] replaces the set)."""
    assert link.forum_topic_id is not None
    title = view.topic_title if link.wiki_title != charter.title else None
    tags = None
    if link.charter_status != charter.status:
        current = forum.topic_by_external_id(link.external_id)
        kept = [t for t in (current.tags if current else ()) if not t.startswith(STATUS_TAG)]
        tags = [*kept, *view.tags]
    forum.update_topic(link.forum_topic_id, title=title, tags=tags)


@dataclass(frozen=True)
class _Post:
    forum_raw: str
    text: str | None  # what to write; None when the edits collide
    human_edit: bool  # the forum post changed since Constellate last wrote it


def _merged_post(forum: ForumClient, link: PageTopicLink, view: ForumView) -> _Post:
    assert link.forum_post_id is not None
    raw = forum.get_post(link.forum_post_id).raw or ""
    synced = link.synced_text or ""
    human_edit = raw.strip() != synced.strip()
    # The base is the last render: human edits merged earlier live only on the forum
    # and in synced_text, and must survive this wiki change as well.
    base = link.rendered_text if link.rendered_text is not None else synced
    return _Post(raw, merge_post(base, view.post, raw), human_edit)


def _action(link: PageTopicLink, charter: Charter, restoring: bool, human_edit: bool) -> str:
    if restoring:
        return "restored"
    if link.wiki_title != charter.title:
        return "renamed"
    return "merged" if human_edit else "updated"


def _describe(link: PageTopicLink, view: ForumView) -> str:
    return f"category {view.category_name!r}, topic {link.forum_topic_id}"


def _remember(link: PageTopicLink, charter: Charter, view: ForumView, written: str) -> None:
    link.wiki_title = charter.title
    link.synced_hash = view.hash
    link.synced_text = written
    link.rendered_text = view.post
    link.category_name = view.category_name
    link.charter_status = charter.status
    link.charter = charter_record(charter)


# -- archive -------------------------------------------------------------------------------


def _archive(forum: ForumClient, link: PageTopicLink, dry_run: bool) -> ForumOutcome:
    """Close and archive the charter topic; the category and every post stay."""
    detail = f"charter topic {link.forum_topic_id} closed and archived"
    if dry_run:
        return ForumOutcome("archived", f"would have: {detail}")
    if link.forum_topic_id is not None:
        forum.set_topic_status(link.forum_topic_id, "closed", True)
        forum.set_topic_status(link.forum_topic_id, "archived", True)
    link.archived_at = clock.now()
    # Restoring must rewrite everything (reopen, unarchive), whatever the hash says.
    link.synced_hash = None
    return ForumOutcome("archived", detail)


def _set_read_only(forum: ForumClient, category_id: int, read_only: bool) -> None:
    everyone = READ_ONLY if read_only else FULL_ACCESS
    forum.update_category(category_id, permissions={"everyone": everyone, "staff": FULL_ACCESS})


class _Categories:
    """The forum's categories, read once per creation."""

    def __init__(self, forum: ForumClient, session: Session) -> None:
        self._all = forum.categories()
        self._session = session

    def find(self, name: str, parent_id: int | None) -> Category | None:
        wanted = name.lower()
        for category in self._all:
            if category.name.lower() == wanted and category.parent_category_id == parent_id:
                return category
        return None

    def linked_elsewhere(self, category_id: int, page_id: int) -> bool:
        query = select(PageTopicLink.id).where(
            PageTopicLink.forum_category_id == category_id,
            PageTopicLink.wiki_page_id != page_id,
        )
        return self._session.scalars(query).first() is not None
