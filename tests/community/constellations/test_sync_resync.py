"""What a resync costs, against the real wiki and the forum sandbox: a page that did not
change since its last sync costs the batched read and nothing more (issue 20); a page
that changed is synced and its history read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from bench.constellation_sync import resync_goal
from community.activity import ForumPostActivity
from community.constellations.forum_mirror import forum_link
from community.constellations.handlers import refresh_section, schedule_section_refresh
from community.constellations.leadership import timeline
from community.constellations.sync import sync_constellations
from community.handling import HandlerContext
from core import clock, event_kinds
from core.events import Event
from core.inbox import to_event
from core.models import InboxEvent
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.conftest import SessionForum, SessionWiki

BODY = "A body long enough for Discourse's twenty character minimum."


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def make_page(rig: SyncRig, prefix: str) -> str:
    title = rig.session_wiki.title(prefix)
    category = rig.session_forum.name("cat-")
    rig.session_wiki.human().edit(title, charter_text(category), summary="test", mode="create")
    return title


class HistoryReads(list[str]):
    """The titles whose history (revisions or contributors) the wiki was asked for."""

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        params = parse_qs(urlsplit(response.request.url or "").query)
        prop = params.get("prop", [""])[0]
        if prop == "contributors" or (prop == "revisions" and "rvdir" in params):
            self.append(params["titles"][0])


def history_reads(rig: SyncRig) -> HistoryReads:
    reads = HistoryReads()
    rig.wiki.session.hooks["response"].append(reads.hook)
    return reads


def sync(rig: SyncRig, titles: list[str]) -> Any:
    return sync_constellations(
        rig.store, rig.settings, titles=titles, wiki=rig.wiki, forum=rig.forum
    )


def discuss(rig: SyncRig, title: str) -> str:
    """A person's topic and another's reply in the page's category, handled as the forum
    events that bring them are: activity recorded, the wiki section refreshed (a bot
    edit of the page). Returns the topic's title."""
    poster, replier = rig.session_forum.name("p"), rig.session_forum.name("r")
    for username in (poster, replier):
        rig.forum.create_user(username, username.title(), f"{username}@example.org")
    topic_title = f"A discussion about the standard {rig.session_forum.name('')}"
    pageid = rig.wiki.read_pages([title])[title].pageid
    assert pageid is not None
    with rig.store.session() as session:
        link = forum_link(session, pageid)
        assert link is not None and link.forum_category_id is not None
        category_id = link.forum_category_id
    made = rig.forum.acting_as(poster).create_topic(
        topic_title, BODY, category_id=category_id, external_id=rig.session_forum.name("x")
    )
    rig.forum.acting_as(replier).reply(made.topic_id, BODY)
    topic = rig.forum.get_topic(made.topic_id)
    with rig.store.session() as session:
        for post in topic.posts:
            assert post.created_at is not None
            session.add(
                ForumPostActivity(
                    post_id=post.id,
                    topic_id=topic.id,
                    category_id=category_id,
                    username=post.username,
                    post_number=post.post_number,
                    reply_to_post_number=post.reply_to_post_number,
                    created_at=post.created_at,
                    updated_at=post.created_at,
                    deleted=False,
                )
            )
        event = Event(
            event_id=f"forum:post_created:{topic.posts[-1].id}",
            kind=event_kinds.FORUM_POST_CREATED,
            source="forum",
            subject=f"post:{topic.posts[-1].id}",
            actor=replier,
            occurred_at=clock.now(),
            delivery_id=None,
            payload={"post": {"id": topic.posts[-1].id, "category_id": category_id}},
        )
        context = HandlerContext(session, rig.settings)
        schedule_section_refresh(event, context)
        # The refresh the post asked for, as the worker runs it when it falls due.
        [due] = session.scalars(
            select(InboxEvent).where(InboxEvent.kind == event_kinds.SECTION_REFRESH)
        ).all()
        refresh_section(to_event(due), context)
    return topic_title


def test_a_no_change_resync_costs_the_batched_read_and_no_forum_request(rig: SyncRig) -> None:
    titles = [make_page(rig, "Resync floor") for _ in range(4)]
    assert sync(rig, titles).created == 4
    # Forum life since: the section shows it, written by the forum event's handler.
    topic_title = discuss(rig, titles[0])
    assert topic_title in rig.wiki.read_pages([titles[0]])[titles[0]].text
    wiki_before, forum_before = rig.wiki_counts.work(), rig.forum_counts.total()
    histories = history_reads(rig)

    again = sync(rig, titles)

    assert (again.unchanged, again.updated, again.wiki_sections_written) == (4, 0, 0)
    assert rig.forum_counts.total() - forum_before == 0
    assert rig.wiki_counts.work() - wiki_before <= resync_goal(len(titles))
    assert histories == []


def test_a_page_changed_between_syncs_is_synced_and_its_history_read(rig: SyncRig) -> None:
    lead_changed, text_changed, untouched = (make_page(rig, "Resync change") for _ in range(3))
    sync(rig, [lead_changed, text_changed, untouched])
    human = rig.session_wiki.human()
    page = human.read_pages([lead_changed])[lead_changed]
    new_text = page.text.replace("Harbour Food Bank\n", "North Pantry\n", 1)
    human.edit(lead_changed, new_text, summary="test", base=page)
    page = human.read_pages([text_changed])[text_changed]
    new_text = page.text.replace("Human text", "A person's text", 1)
    human.edit(text_changed, new_text, summary="test", base=page)
    histories = history_reads(rig)

    summary = sync(rig, [lead_changed, text_changed, untouched])

    assert (summary.updated, summary.unchanged, summary.leadership_changes) == (1, 2, 1)
    assert f"updated: {lead_changed}" in " | ".join(summary.lines)
    # Revisions and contributors of each changed page, of no other.
    assert sorted(histories) == sorted([lead_changed, text_changed] * 2)
    with rig.store.session() as session:
        pageid = rig.wiki.read_pages([lead_changed])[lead_changed].pageid
        assert pageid is not None
        link = forum_link(session, pageid)
        assert link is not None and link.forum_post_id is not None
        assert [c.lead_partner for c in timeline(session, pageid)] == [
            "Harbour Food Bank",
            "North Pantry",
        ]
    assert "North Pantry" in (rig.forum.get_post(link.forum_post_id).raw or "")
    # And the sync after it is back at the floor.
    wiki_before, forum_before = rig.wiki_counts.work(), rig.forum_counts.total()
    sync(rig, [lead_changed, text_changed, untouched])
    assert rig.wiki_counts.work() - wiki_before <= resync_goal(3)
    assert rig.forum_counts.total() - forum_before == 0
