"""Outgoing queue on PostgreSQL too (its insert differs), and the `outgoing` commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.migrate import upgrade
from core.store import Store
from tests.webhooks.outgoing_support import SECRET, event, settings
from webhooks.outgoing import subscriptions
from webhooks.outgoing.cli import outgoing
from webhooks.outgoing.models import OutgoingMessage, WebhookSubscription
from webhooks.outgoing.queue import fan_out

CONFIG = settings(
    subscriptions=[{"url": "https://hooks.example/in", "secret": SECRET, "events": ["*"]}]
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


def test_fan_out_and_config_sync_are_idempotent_on_each_database(store: Store) -> None:
    for _ in range(2):
        with store.session() as session:
            fan_out(session, event(1), CONFIG)
    with store.session() as session:
        assert len(session.scalars(select(WebhookSubscription)).all()) == 1
        [message] = session.scalars(select(OutgoingMessage)).all()
        assert message.state == "pending" and message.msg_id.startswith("msg_")
        assert message.next_attempt_at is not None


def test_outgoing_commands_list_replay_and_show_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    store = Store(url)
    with store.session() as session:
        subscriptions.sync_config(session, CONFIG)
        fan_out(session, event(1), CONFIG)
        message = session.scalars(select(OutgoingMessage)).one()
        message.state = "failed"
        msg_id = message.msg_id
    store.dispose()
    for name in list(os.environ):
        if name.startswith("CONSTELLATE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONSTELLATE_STORE_URL", url)
    monkeypatch.setenv("CONSTELLATE_SERVICE_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("CONSTELLATE_WIKI_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONSTELLATE_WIKI_USERNAME", "Bot@constellate")
    monkeypatch.setenv("CONSTELLATE_WIKI_PASSWORD", "wiki-bot-password-not-real")
    runner = CliRunner()

    listed = runner.invoke(outgoing, ["list", "--state", "failed"])
    assert listed.exit_code == 0, listed.output
    assert msg_id in listed.output
    replayed = runner.invoke(outgoing, ["replay", msg_id])
    assert replayed.exit_code == 0, replayed.output
    assert msg_id in runner.invoke(outgoing, ["list", "--state", "pending"]).output
    again = runner.invoke(outgoing, ["replay", msg_id])
    assert again.exit_code != 0 and "still pending" in again.output
    shown = runner.invoke(outgoing, ["attempts", msg_id])
    assert shown.exit_code == 0 and shown.output == ""
    assert runner.invoke(outgoing, ["attempts", "msg_nope"]).exit_code != 0
