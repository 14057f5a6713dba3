"""Badges and identity suggestions on their own: the worker's timers schedule both, the
People page's buttons (CSRF-checked) only queue them, and the worker runs them against
the real wiki and the forum sandbox; badges stay granted once however often they run."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from community.credits import ledger
from community.credits.models import BadgeGrant, LinkSuggestion
from connectors.discourse.client import ForumClient
from core import event_kinds
from core.models import InboxEvent
from core.store import Store, get_store
from service.timers import Timers
from service.worker import Worker
from tests.clocks import FakeClock, chosen
from tests.community.test_people import wiki_user
from tests.conftest import SessionForum, SessionWiki
from tests.dashboards.support import dashboard_app, login
from tests.service.test_timers import settings as timer_settings

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DUTIES = (event_kinds.BADGES_DUE, event_kinds.SUGGESTIONS_DUE)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


def scheduled(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        rows = session.scalars(
            select(InboxEvent).where(InboxEvent.kind.in_(DUTIES)).order_by(InboxEvent.id)
        )
        return [(row.kind, row.event_id) for row in rows]


def test_the_worker_schedules_badges_and_suggestions(
    store: Store, forum: SessionForum, clock: FakeClock
) -> None:
    config = timer_settings(store, forum)
    config["credits"].update(badges_hours=6, suggestions_hours=24)
    timers = Timers(
        store, config, clock, enabled=True, report=lambda what, exc: pytest.fail(f"{what}: {exc}")
    )
    timers.run_due()
    first = scheduled(store)
    assert sorted(kind for kind, _ in first) == sorted(DUTIES)
    clock.advance(hours=5)
    timers.run_due()
    assert scheduled(store) == first  # neither is due again yet
    clock.advance(hours=1)
    timers.run_due()
    assert [kind for kind, _ in scheduled(store)[2:]] == [event_kinds.BADGES_DUE]


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


def test_the_people_page_queues_both_and_the_worker_runs_them_on_the_platforms(
    wiki: SessionWiki, forum: SessionForum, store_url: str
) -> None:
    platforms: dict[str, Any] = {
        "forum": {"url": forum.url, "api_key": forum.api_key, "api_username": "system"},
        "wiki": wiki.config(),
    }
    app = dashboard_app(store_url, csrf=True, **platforms)
    store, settings = get_store(app), app.config["CONSTELLATE"]
    tag = uuid.uuid4().hex[:8]
    sharer = f"sharer{tag}"
    accounts = ForumClient(settings["forum"])
    accounts.create_user(sharer, sharer, f"{sharer}@example.org")
    accounts.create_user(f"pair{tag}", "Pair", f"p{tag}@example.org")
    wiki_user(wiki, f"Pair{tag}")
    with store.session() as session:
        ledger.credit(
            session,
            ledger.Contribution(
                platform="forum", account=sharer, kind="practice_adopted", object="practice:1",
                ref="adoption:north pantry", weight=15, occurred_at=T0, rule="practice_adopted",
            ),
        )  # fmt: skip

    client = app.test_client()
    login(client, "mod_anna")
    page = client.get("/dashboard/people")
    assert page.status_code == 200
    assert "Refresh suggestions now" in page.text and "Grant badges now" in page.text
    token = token_in(page.text)
    assert client.post("/dashboard/people/badges/run").status_code == 400  # no CSRF token
    asked = len(forum.forum.api_log)
    for path in ("/dashboard/people/suggestions/run", "/dashboard/people/badges/run"):
        answer = client.post(path, data={"csrf_token": token})
        assert answer.status_code == 303
    assert len(forum.forum.api_log) == asked  # the page only queued the work
    assert sorted(kind for kind, _ in scheduled(store)) == sorted(DUTIES)

    worker = Worker(store, settings, sleep=lambda _s: None)
    while worker.run_once():
        pass
    with store.session() as session:
        pair = session.scalars(
            select(LinkSuggestion).where(LinkSuggestion.forum_username == f"pair{tag}")
        ).one()
        assert (pair.wiki_username, pair.state) == (f"Pair{tag}", "open")
        assert [g.username for g in session.scalars(select(BadgeGrant))] == [sharer]
    page = client.get("/dashboard/people")
    assert f"pair{tag}" in page.text  # the open suggestion waits on the page

    # Asked again (and on schedule): still one grant, on the forum and in the store.
    client.post("/dashboard/people/badges/run", data={"csrf_token": token})
    while worker.run_once():
        pass
    with store.session() as session:
        assert [g.username for g in session.scalars(select(BadgeGrant))] == [sharer]
    assert len(accounts.user_badges(sharer)) == 1
