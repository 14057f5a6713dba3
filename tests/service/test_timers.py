"""The forum poll is a safety net: every ``forum_poll_seconds`` while no webhook arrives,
once in five minutes while they do (the forum's budget is for the work)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.config import load_config
from core.events import Event
from core.inbox import record
from core.store import Store
from service.timers import Timers
from tests.clocks import FakeClock, chosen
from tests.conftest import SessionForum

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


def settings(store: Store, forum: SessionForum) -> Any:
    return load_config(
        environ={},
        overrides={
            "service": {"secret_key": "s" * 40},
            "store": {"url": str(store.engine.url.render_as_string(hide_password=False))},
            "wiki": {"url": "http://127.0.0.1:9", "username": "Bot", "password": "not-real"},
            "forum": {"url": forum.url, "api_key": forum.api_key, "api_username": "system"},
            # Only the forum poll: every minute while no webhook arrives.
            "worker": {"wiki_poll_seconds": 0, "forum_poll_seconds": 60},
            "health": {"recompute_minutes": 0},
            "automations": {"scan_seconds": 0},
        },
    )


def webhook(number: int) -> Event:
    return Event(
        event_id=f"forum:post_created:{number}",
        kind="forum.post_created",
        source="forum",
        subject=f"post:{number}",
        actor="ana",
        occurred_at=T0,
        delivery_id=f"delivery-{number}",
        payload={"post": {"id": number}},
    )


def polls(forum: SessionForum) -> int:
    return sum(1 for call in forum.forum.api_log if call.path == "/posts.json")


def test_the_poll_waits_five_minutes_while_webhooks_arrive(
    store: Store, forum: SessionForum, clock: FakeClock
) -> None:
    timers = Timers(
        store,
        settings(store, forum),
        clock,
        enabled=True,
        report=lambda what, exc: pytest.fail(f"{what}: {exc}"),
    )
    seen = []
    for minute in range(14):
        if minute < 8:  # a webhook each minute for eight minutes, then none
            with store.session() as session:
                record(session, webhook(minute))
        before = polls(forum)
        timers.run_due()
        seen.append(polls(forum) - before)
        clock.advance(minutes=1)
    # While webhooks arrive: at 0, then every five minutes (5, 10). The last webhook came
    # at 7: from 12 on none has come for five minutes, and the poll is back to every minute.
    assert [minute for minute, n in enumerate(seen) if n] == [0, 5, 10, 12, 13]
