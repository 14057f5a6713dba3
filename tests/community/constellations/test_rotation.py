"""Rotation drives the forum (issue 21), end to end against the real wiki and the forum
sandbox: a wiki edit that hands the lead to another partner reaches the forum through the
worker (the new lead's group moderates the category, the charter shows the new lead and
since when, the change is announced once), alerts go to the new lead's group, and a lead
term run past its end raises an alert that the rotation resolves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from community.constellations.forum_mirror import forum_link
from community.constellations.sync import sync_constellations
from community.health.models import HealthAlert
from community.health.runs import recompute_everything
from connectors.discourse import ForumClient
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.community.constellations.test_sync_dispatch import run_events
from tests.community.test_affiliation import partner_with_group
from tests.conftest import SessionForum

OVERRUN = "leadership_overrun"


@pytest.fixture
def category_moderation(forum: SessionForum) -> Iterator[None]:
    """The forum lets groups moderate categories (Discourse's default is off): on for the
    test, as the partnership's admin sets it, and off again after."""
    admin = ForumClient(
        {"url": forum.url, "api_key": forum.api_key, "api_username": forum.api_username}
    )
    admin.site_settings(enable_category_group_moderation=True)
    yield
    admin.site_settings(enable_category_group_moderation=False)


def charter(rig: SyncRig, category: str, lead: str, other: str, term_end: date) -> str:
    text = charter_text(category)
    for old, new in (
        ("| lead_partner = Harbour Food Bank", f"| lead_partner = {lead}"),
        (
            "| partners = Harbour Food Bank, North Pantry, City Kitchen",
            f"| partners = {lead}, {other}",
        ),
        ("| term_end = 2027-03-01", f"| term_end = {term_end.isoformat()}"),
    ):
        assert old in text
        text = text.replace(old, new)
    return text


def overrun_alerts(rig: SyncRig, now: datetime) -> list[tuple[str, str | None]]:
    """Recompute as of ``now``; the overrun alerts after it, (state, lead group)."""
    with rig.store.session() as session:
        recompute_everything(session, rig.settings, now=now)
    with rig.store.session() as session:
        rows = session.scalars(
            select(HealthAlert).where(HealthAlert.rule == OVERRUN).order_by(HealthAlert.id)
        )
        return [(row.state, row.lead_group) for row in rows]


def test_a_lead_change_on_the_wiki_reaches_the_forum_and_its_alerts(
    rig: SyncRig, forum: SessionForum, category_moderation: None
) -> None:
    first, first_group = partner_with_group(rig, "ra")
    second, second_group = partner_with_group(rig, "rb")
    human, title = rig.session_wiki.human(), rig.session_wiki.title("Rotating")
    category = rig.session_forum.name("cat-")
    since = rig.wiki.latest_cursor()
    first_text = charter(rig, category, first, second, date(2020, 1, 1))
    human.edit(title, first_text, summary="t", mode="create")
    # The term ends on the day the wiki dated the lead's start (the wiki's own clock).
    [created] = list(rig.wiki.revisions(title))
    began = created.timestamp.date()
    page = human.read_pages([title])[title]
    human.edit(title, charter(rig, category, first, second, began), summary="t", base=page)
    assert run_events(rig, title, since) == ["wiki.new:done", "wiki.edit:done"]

    page_id = rig.wiki.read_pages([title])[title].pageid
    assert page_id is not None
    with rig.store.session() as session:
        link = forum_link(session, page_id)
        assert link is not None and link.forum_category_id is not None
        category_id, topic_id, post_id = (
            link.forum_category_id, link.forum_topic_id, link.forum_post_id,
        )  # fmt: skip
    admin = rig.session_forum.client(rig.session_forum.api_username)

    def moderators() -> list[int]:
        shown = admin._get(f"/c/{category_id}/show.json")["category"]
        return list(shown["moderating_group_ids"])

    def topics_in_category() -> list[dict[str, object]]:
        """The category's topics but the charter, as the forum holds them."""
        with forum.forum.lock:
            return [
                dict(t)
                for t in forum.forum.table("topics").values()
                if t["category_id"] == category_id and t["id"] != topic_id
            ]

    # Followed from the start: the lead's group moderates, no announcement for history.
    assert moderators() == [first_group.id]
    assert topics_in_category() == []
    assert assert_post_shows(rig, post_id, first, began)
    # A month past the term's end, the same lead: the overrun alert, sent to its group.
    later = datetime.combine(began, datetime.min.time(), UTC) + timedelta(days=30)
    assert overrun_alerts(rig, later) == [("open", first_group.name)]

    # The lead rotates on the wiki, with a new term.
    since = rig.wiki.latest_cursor()
    page = human.read_pages([title])[title]
    rotated = charter(rig, category, second, first, began + timedelta(days=365))
    human.edit(title, rotated, summary="The lead rotates", base=page)
    assert run_events(rig, title, since) == ["wiki.edit:done"]

    assert moderators() == [second_group.id]
    [announcement] = topics_in_category()
    assert str(announcement["title"]).startswith(f"{second} now leads")
    handed_over = list(rig.wiki.revisions(title))[-1].timestamp.date()
    assert assert_post_shows(rig, post_id, second, handed_over)
    assert overrun_alerts(rig, later) == [("resolved", first_group.name)]
    # Alerts now go to the new lead's group: its own term, overrun in turn.
    much_later = later + timedelta(days=400)
    assert overrun_alerts(rig, much_later) == [
        ("resolved", first_group.name),
        ("open", second_group.name),
    ]

    # A resync changes nothing and announces nothing again.
    again = sync_constellations(
        rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum
    )
    assert again.unchanged == 1 and again.lines == []
    assert len(topics_in_category()) == 1


def assert_post_shows(rig: SyncRig, post_id: int | None, lead: str, since: date) -> bool:
    assert post_id is not None
    raw = rig.forum.get_post(post_id).raw or ""
    return f"**Lead partner:** {lead} (since {since.isoformat()})" in raw
