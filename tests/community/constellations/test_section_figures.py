"""New health figures or credit that a constellation's wiki section would show ask for one
refresh of that section (coalesced like a post's): a like asks for its page's; after a
recompute, only the pages whose figures changed ask. Against the real wiki and the forum
sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from community.constellations.forum_mirror import forum_link
from community.constellations.handlers import refresh_section, refresh_sections_behind
from community.credits import ledger
from community.handling import HandlerContext
from community.health.runs import recompute_everything
from core import clock, event_kinds
from core.events import Event
from core.inbox import to_event
from core.models import InboxEvent
from tests.community.constellations.sync_support import SyncRig
from tests.community.constellations.test_sync_resync import make_page, sync
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def recompute() -> Event:
    return Event(
        event_id="schedule:health:test",
        kind=event_kinds.HEALTH_RECOMPUTE,
        source="schedule",
        subject="health",
        actor=None,
        occurred_at=clock.now(),
        delivery_id=None,
        payload={"every_minutes": 60},
    )


def liked(category_id: int) -> Event:
    """A like of a post in the category (only what the handler reads of the payload)."""
    return Event(
        event_id="forum:post_liked:1",
        kind=event_kinds.FORUM_POST_LIKED,
        source="forum",
        subject="post:1",
        actor="liker",
        occurred_at=clock.now(),
        delivery_id=None,
        payload={"like": {"post": {"id": 1, "category_id": category_id}}},
    )


def asked(rig: SyncRig, event: Event) -> list[InboxEvent]:
    """The section refreshes waiting after ``event`` is handled (earlier ones cleared)."""
    with rig.store.session() as session:
        session.execute(delete(InboxEvent).where(InboxEvent.kind == event_kinds.SECTION_REFRESH))
        refresh_sections_behind(event, HandlerContext(session, rig.settings))
    with rig.store.session() as session:
        rows = session.scalars(
            select(InboxEvent).where(InboxEvent.kind == event_kinds.SECTION_REFRESH)
        ).all()
        session.expunge_all()
        return list(rows)


def test_changed_figures_ask_for_one_refresh_and_unchanged_ones_for_none(rig: SyncRig) -> None:
    title = make_page(rig, "Figures")
    other = make_page(rig, "Figures other")
    assert sync(rig, [title, other]).created == 2  # sections written, figures as shown
    pages = rig.wiki.read_pages([title, other])
    page_id, other_id = pages[title].pageid, pages[other].pageid
    assert page_id is not None and other_id is not None
    with rig.store.session() as session:
        link = forum_link(session, page_id)
        assert link is not None and link.forum_category_id is not None
        category_id = link.forum_category_id

    assert asked(rig, recompute()) == []  # the figures are those the sections show

    with rig.store.session() as session:  # a like's credit in the first page's category
        ledger.credit(
            session,
            ledger.Contribution(
                platform="forum",
                account="gracefigures",
                kind="like_received",
                object="post:1",
                ref="like:liker",
                weight=1.0,
                occurred_at=clock.now(),
                rule="like_received",
                scope=f"category:{category_id}",
            ),
        )
    [due] = asked(rig, liked(category_id))
    assert due.subject == f"page:{page_id}"
    with rig.store.session() as session:
        refresh_section(to_event(due), HandlerContext(session, rig.settings))
    text = rig.wiki.read_pages([title])[title].text
    assert "gracefigures" in text
    assert asked(rig, recompute()) == []  # shown now

    with rig.store.session() as session:  # the first health figures of both
        recompute_everything(session, rig.settings, now=clock.now())
    both = asked(rig, recompute())
    assert sorted(row.subject for row in both) == sorted([f"page:{page_id}", f"page:{other_id}"])
    for row in both:
        with rig.store.session() as session:
            refresh_section(to_event(row), HandlerContext(session, rig.settings))
    assert "Not measured yet" not in rig.wiki.read_pages([other])[other].text
    assert asked(rig, recompute()) == []
