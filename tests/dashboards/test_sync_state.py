"""The Sync page from the store alone, on SQLite and PostgreSQL: the readers' lag, what
cannot be resolved or resynced, and the JSON API against its OpenAPI schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select, update

from community.activity import ForumPostActivity
from community.constellations.models import SyncIssue, record_issue
from community.constellations.requests import (
    apply_resolution,
    resolution_event,
)
from community.constellations.sync_runs import SyncRun, start_run
from community.handling import HandlerContext
from connectors.mediawiki.records import make_cursor
from core import inbox
from core.event_kinds import CONFLICT_RESOLVED as RESOLVE_KIND
from core.event_kinds import RESYNC_REQUESTED as RESYNC_KIND
from core.events import Event
from core.models import InboxEvent, SyncCursor
from core.store import Store
from dashboards.openapi import response_schema
from dashboards.sync_report import cursor_lags
from tests.dashboards.sync_site import Site, resolve_path
from webhooks.incoming import forum_poll, wiki_poll


@pytest.fixture
def store_site(store_url: str) -> Iterator[Site]:
    """No platforms: what the page reads from the store, on SQLite and PostgreSQL."""
    made = Site(store_url)
    yield made
    made.store.dispose()


def test_a_bad_title_queues_nothing(store_site: Site) -> None:
    store_site.post("/dashboard/sync/resync", title="Bad [[title]]")
    [(category, text)] = store_site.flashes()
    assert category == "error" and "cannot contain" in text
    assert store_site.events(RESYNC_KIND) == []


# -- what cannot be resolved ----------------------------------------------------------------


def test_resolving_refuses_unknown_issues_and_other_conflicts(store_site: Site) -> None:
    with store_site.store.session() as session:
        record_issue(
            session,
            kind="conflict",
            wiki_title="Flood Wardens",
            field="forum_category",
            detail="forum category 'Flood': it already belongs to another constellation",
            wiki_page_id=4,
        )
        record_issue(
            session,
            kind="conflict",
            wiki_title="Food Data",
            field="charter_post",
            detail="the charter post was edited on the forum",
            wiki_page_id=5,
            forum_post_id=50,
        )
        category, post = session.scalars(select(SyncIssue.id).order_by(SyncIssue.id)).all()

    assert (
        store_site.client.post(resolve_path(post + 100), data={"choice": "use_wiki"}).status_code
        == 404
    )
    store_site.post(resolve_path(category), choice="use_wiki")
    assert store_site.flashes() == [
        (
            "error",
            f"Not resolved: issue {category} is settled by changing the wiki page, "
            "not by choosing a side.",
        )
    ]
    store_site.post(resolve_path(post), choice="both")
    assert store_site.flashes()[0][0] == "error"
    assert store_site.events(RESOLVE_KIND) == []
    html = store_site.page()
    assert "change the wiki page to settle it" in html
    assert f'action="{resolve_path(category)}"' not in html
    assert f'action="{resolve_path(post)}"' in html


def test_the_handler_leaves_a_resolved_issue_alone(store_site: Site) -> None:
    """Without touching a platform (this site's wiki and forum do not answer)."""
    with store_site.store.session() as session:
        record_issue(
            session,
            kind="conflict",
            wiki_title="Food Data",
            field="charter_post",
            detail="the charter post was edited on the forum",
            wiki_page_id=5,
        )
        issue = session.scalars(select(SyncIssue)).one()
        resolved_at = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
        issue.resolved_at = resolved_at
        issue_id = issue.id
    event = resolution_event(issue_id, "keep_forum", "moderator", now=resolved_at)
    with store_site.store.session() as session:
        apply_resolution(event, HandlerContext(session, store_site.settings))
    assert store_site.issue(issue_id).resolved_at == resolved_at


# -- readers' lag and the API ---------------------------------------------------------------

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def test_cursor_lag_is_measured_from_the_newest_change_read(store_site: Site) -> None:
    with store_site.store.session() as session:
        assert [c.value for c in cursor_lags(session, now=NOW)] == [None, None]
        session.add(
            SyncCursor(
                name=wiki_poll.CURSOR_NAME,
                value=make_cursor(NOW - timedelta(hours=1), 812),
                updated_at=NOW - timedelta(minutes=50),
            )
        )
        session.add(
            SyncCursor(
                name=forum_poll.CURSOR_NAME, value="4471", updated_at=NOW - timedelta(minutes=5)
            )
        )
        session.add(SyncCursor(name="leadership:12", value="99"))  # per page: not a reader
    with store_site.store.session() as session:
        wiki, forum = cursor_lags(session, now=NOW)
    assert (wiki.name, wiki.lag_seconds, wiki.position_at) == (
        wiki_poll.CURSOR_NAME,
        3600.0,
        NOW - timedelta(hours=1),
    )
    # The forum's post is not in the store yet: measured from the cursor's last move.
    assert (forum.name, forum.lag_seconds, forum.position_at) == (
        forum_poll.CURSOR_NAME,
        300.0,
        None,
    )
    with store_site.store.session() as session:
        session.add(forum_post(4471, NOW - timedelta(minutes=30)))
    with store_site.store.session() as session:
        _wiki, forum = cursor_lags(session, now=NOW)
    assert (forum.lag_seconds, forum.position_at) == (1800.0, NOW - timedelta(minutes=30))


def forum_post(post_id: int, created_at: datetime) -> ForumPostActivity:
    return ForumPostActivity(
        post_id=post_id,
        topic_id=9,
        category_id=3,
        username="ana",
        post_number=2,
        created_at=created_at,
        updated_at=created_at,
    )


def test_the_page_shows_each_readers_lag(store_site: Site) -> None:
    # Relative to the page's own clock: it measures against the time it renders.
    read_at = datetime.now(UTC) - timedelta(hours=2, minutes=5, seconds=20)
    with store_site.store.session() as session:
        session.add(SyncCursor(name=wiki_poll.CURSOR_NAME, value=make_cursor(read_at, 7)))
    html = store_site.page()
    rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', html, re.S)
    shown = {label: cells for label, cells in rows}
    assert '<td class="lag">2 h 5 min</td>' in shown["Wiki recent changes"]
    assert read_at.strftime("%Y-%m-%d %H:%M") in shown["Wiki recent changes"]
    assert "not started" in shown["Forum posts"]


def fail(store: Store, kind: str, state: str, subject: str) -> None:
    """An inbox event of ``kind`` left in ``state`` after failing (or done, unfailed)."""
    event = Event(
        event_id=f"test:{kind}:{subject}:{state}",
        kind=kind,
        source="wiki" if kind.startswith("wiki.") else "forum",
        subject=subject,
        actor=None,
        occurred_at=NOW,
        delivery_id=None,
        payload={},
    )
    with store.session() as session:
        inbox.record(session, event)
        error = None if state == "done" else "Unavailable: the wiki did not answer"
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == event.event_id)
            .values(state=state, last_error=error, attempts=3)
        )


def test_the_api_lists_runs_cursors_issues_and_failures(store_site: Site) -> None:
    store = store_site.store
    command = start_run(store, trigger="command", scope="full")
    command.page_synced({"updated": 1})
    command.page_synced({"unchanged": 1})
    command.finish({"updated": 1, "unchanged": 1})
    failed = start_run(store, trigger="dashboard", scope="Food Data", requested_by="ana")
    failed.finish({}, error="Unavailable: the wiki did not answer")
    with store.session() as session:
        session.add(SyncCursor(name=wiki_poll.CURSOR_NAME, value=make_cursor(NOW, 3)))
        record_issue(
            session,
            kind="conflict",
            wiki_title="Food Data",
            field="charter_post",
            detail="collides",
            wiki_page_id=5,
            forum_post_id=50,
        )
        record_issue(
            session, kind="malformed", wiki_title="Bad Page", detail="no goal", field="goal"
        )
        conflict_id = session.scalars(
            select(SyncIssue.id).where(SyncIssue.kind == "conflict")
        ).one()
    fail(store, "wiki.edit", "dead", "page:Food Data")
    fail(store, "wiki.edit", "pending", "page:Other")
    fail(store, "wiki.edit", "done", "page:Fine")
    fail(store, "forum.post_created", "dead", "post:5")  # not a sync kind
    store_site.post(resolve_path(conflict_id), choice="keep_forum")

    response = store_site.client.get("/api/v1/sync")
    assert response.status_code == 200
    body = response.get_json()
    Draft202012Validator(
        response_schema("/sync"), format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(body)
    assert [(r["trigger"], r["full"], r["titles"], r["error"]) for r in body["runs"]] == [
        ("dashboard", False, ["Food Data"], "Unavailable: the wiki did not answer"),
        ("command", True, [], None),
    ]
    assert (body["runs"][1]["pages_seen"], body["runs"][1]["pages_changed"]) == (2, 1)
    assert [c["name"] for c in body["cursors"]] == [wiki_poll.CURSOR_NAME, forum_poll.CURSOR_NAME]
    assert body["cursors"][1]["value"] is None
    assert [(i["kind"], i["resolvable"], i["queued_choice"]) for i in body["open_issues"]] == [
        ("conflict", True, "keep_forum"),
        ("malformed", False, None),
    ]
    assert body["open_issue_total"] == 2
    assert [(e["subject"], e["state"]) for e in body["failed_events"]] == [
        ("page:Other", "pending"),
        ("page:Food Data", "dead"),
    ]
    assert (body["page"], body["next_page"]) == (1, None)


def test_runs_are_paged(store_site: Site) -> None:
    with store_site.store.session() as session:
        session.add_all(
            SyncRun(
                trigger="command",
                scope=f"Page {n}",
                started_at=NOW + timedelta(minutes=n),
                counts={},
            )
            for n in range(51)
        )
    first = store_site.client.get("/api/v1/sync").get_json()
    second = store_site.client.get("/api/v1/sync?page=2").get_json()
    assert (len(first["runs"]), first["next_page"]) == (50, 2)
    assert first["runs"][0]["titles"] == ["Page 50"]
    assert [r["titles"] for r in second["runs"]] == [["Page 0"]]
    assert second["next_page"] is None
    html = store_site.page("/dashboard/sync?page=2")
    assert "Page 0" in html and "Page 50" not in html and "Newer runs" in html
