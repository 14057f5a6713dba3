"""The pipeline keeps constellations in sync: a wiki edit event, through the worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from community.constellations.forum_mirror import forum_link
from core.inbox import record
from core.models import InboxEvent
from service.worker import Worker
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.conftest import SessionForum, SessionWiki
from webhooks.incoming.wiki_events import change_event


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def run_events(rig: SyncRig, title: str, since: str | None) -> list[str]:
    """Record the wiki's changes to ``title`` since ``since`` and let a worker run them."""
    events = [change_event(c) for c in rig.wiki.recent_changes(since) if c.title == title]
    with rig.store.session() as session:
        for event in events:
            record(session, event)
    worker = Worker(rig.store, rig.settings, sleep=lambda _s: None)
    while worker.run_once():
        pass
    with rig.store.session() as session:
        rows = session.scalars(
            select(InboxEvent).where(InboxEvent.event_id.in_([e.event_id for e in events]))
        )
        return [f"{row.kind}:{row.state}" for row in rows]


def test_a_wiki_edit_event_syncs_its_page_through_the_worker(rig: SyncRig) -> None:
    human = rig.session_wiki.human()
    title, category = rig.session_wiki.title("Sync event"), rig.session_forum.name("cat-")
    since = rig.wiki.latest_cursor()
    human.edit(title, charter_text(category), summary="test", mode="create")

    assert run_events(rig, title, since) == ["wiki.new:done"]

    page = rig.wiki.read_pages([title])[title]
    assert page.pageid is not None
    with rig.store.session() as session:
        link = forum_link(session, page.pageid)
        assert link is not None and link.forum_topic_id is not None
        topic_id = link.forum_topic_id
    post = rig.forum.get_topic(topic_id).posts[0]
    assert "Share one open data standard" in (post.raw or "")

    # The lead rotates on the wiki: the event updates the charter topic.
    since = rig.wiki.latest_cursor()
    page = human.read_pages([title])[title]
    edited = page.text.replace("Harbour Food Bank\n", "City Kitchen\n", 1)
    human.edit(title, edited, summary="test", base=page)
    assert run_events(rig, title, since) == ["wiki.edit:done"]
    assert "City Kitchen" in (rig.forum.get_post(post.id).raw or "").split("Partners")[0]
