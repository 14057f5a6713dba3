"""Pipeline handlers for practices: a wiki change syncs the practice page (tag, renames,
section); a new or edited forum topic gets the tags of the practices it discusses."""

from __future__ import annotations

from community.handling import HandlerContext
from community.practices.registry import sync_practice_page
from community.practices.tagging import tag_topic, topic_id_of, worth_reading
from core.events import Event
from core.page_titles import main_titles


def sync_practice(event: Event, ctx: HandlerContext) -> None:
    """wiki.edit/new/move/delete/restore/reconcile: sync the page (both names for a move).

    A page that is not a practice and never was costs one read and no writes.
    """
    if not ctx.settings.get("forum", {}).get("url"):
        return  # no forum to tag on
    titles = main_titles(event)
    if not titles:
        return
    wiki, forum = ctx.wiki(), ctx.forum()
    pages = wiki.read_pages(titles)
    # The moved page (its new title) first, so the old title's redirect finds it done.
    for page in sorted(pages.values(), key=lambda page: not page.exists):
        sync_practice_page(ctx.session, wiki, forum, ctx.settings, page)


def tag_forum_topic(event: Event, ctx: HandlerContext) -> None:
    """forum.topic_created/topic_edited and the first post's post_created/post_edited:
    tag the topic with the practices it discusses, and record it."""
    if not ctx.settings.get("forum", {}).get("url"):
        return
    topic_id = topic_id_of(event.kind, event.payload)
    if topic_id is None:
        return
    if not worth_reading(ctx.session, ctx.settings, event.payload, topic_id):
        return  # nothing in the event can concern a practice: no reads
    tag_topic(ctx.session, ctx.wiki(), ctx.forum(), ctx.settings, topic_id)
