"""The wiki poller against the real sandbox wiki: kinds, resuming, lost changes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.migrate import upgrade
from core.models import InboxEvent, SyncCursor
from core.store import Store
from tests.conftest import SessionWiki
from webhooks.incoming.cli import poll
from webhooks.incoming.wiki_poll import CURSOR_NAME, poll_wiki


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'poll.db'}"
    upgrade(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    yield store
    store.dispose()


def settings_for(wiki: SessionWiki) -> dict[str, Any]:
    return {"wiki": wiki.config()}


def move_page(wiki: SessionWiki, title: str, new_title: str) -> None:
    """Move as the administrator, through MediaWiki's own maintenance script (logged and
    listed in recent changes like a move made on the wiki)."""
    user = wiki.sandbox.admin_username
    wiki.sandbox.run_maintenance(
        "moveBatch.php",
        "--u",
        user,
        "--r",
        "rename",
        "--noredirects",
        stdin=f"{title}|{new_title}\n",
    )


def delete_page(wiki: SessionWiki, title: str) -> None:
    user = wiki.sandbox.admin_username
    wiki.sandbox.run_maintenance("deleteBatch.php", "-u", user, "-r", "cleanup", stdin=f"{title}\n")


def events_about(store: Store, titles: set[str]) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars().all()
        return [
            (row.kind, row.subject, row.event_id)
            for row in rows
            if row.subject.removeprefix("page:") in titles
        ]


def stored_cursor(store: Store) -> str | None:
    with store.session() as session:
        row = session.get(SyncCursor, CURSOR_NAME)
        return row.value if row else None


def test_changes_become_events_and_a_restart_resumes(wiki: SessionWiki, store_url: str) -> None:
    first = Store(store_url)
    start = poll_wiki(first, settings_for(wiki), client=wiki.bot())
    assert start.started_fresh and start.recorded == 0
    assert stored_cursor(first) == start.cursor  # the past is not replayed

    human = wiki.human()
    title = wiki.title("Poll Page")
    moved = wiki.title("Poll Page Moved")
    human.edit(title, "First text.", summary="create", mode="create")
    human.edit(title, "Second text.", summary="edit")
    edits = poll_wiki(first, settings_for(wiki), client=wiki.bot())
    assert edits.recorded >= 2 and not edits.cursor_too_old
    # Poll before deleting: MediaWiki drops a deleted page's edits from recent changes.
    move_page(wiki, title, moved)
    delete_page(wiki, moved)
    report = poll_wiki(first, settings_for(wiki), client=wiki.bot())
    assert report.recorded >= 2
    kinds = [(kind, subject) for kind, subject, _ in events_about(first, {title, moved})]
    assert kinds == [
        ("wiki.new", f"page:{title}"),
        ("wiki.edit", f"page:{title}"),
        ("wiki.move", f"page:{title}"),
        ("wiki.delete", f"page:{moved}"),
    ]
    assert all(event_id.startswith("wiki:rc:") for _, _, event_id in events_about(first, {title}))
    assert stored_cursor(first) == report.cursor
    first.dispose()

    # A "restart": new store and client objects; only the newer change is read.
    later = wiki.title("Poll Page Later")
    human.edit(later, "After the restart.", summary="create", mode="create")
    second = Store(store_url)
    resumed = poll_wiki(second, settings_for(wiki), client=wiki.bot())
    assert resumed.duplicates == 0
    assert [k for k, _, _ in events_about(second, {title, moved, later})] == [
        "wiki.new",
        "wiki.edit",
        "wiki.move",
        "wiki.delete",
        "wiki.new",
    ]
    # Nothing new: nothing recorded, the cursor stays.
    again = poll_wiki(second, settings_for(wiki), client=wiki.bot())
    assert again.cursor == resumed.cursor
    assert [k for k, _, _ in events_about(second, {later})] == ["wiki.new"]
    second.dispose()


def test_a_cursor_older_than_the_wiki_keeps_is_reported_and_reconciled(
    wiki: SessionWiki, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    practice = wiki.title("Poll Practice")
    result = wiki.human().edit(
        practice, "A practice.\n[[Category:Practices]]", summary="create", mode="create"
    )
    with store.session() as session:  # fake a poller that last ran long ago
        session.add(SyncCursor(name=CURSOR_NAME, value="2001-01-01T00:00:00Z|1"))

    with caplog.at_level("WARNING", logger="constellate.webhooks.wiki_poll"):
        report = poll_wiki(store, settings_for(wiki), client=wiki.bot())

    assert report.cursor_too_old
    assert any("older than the oldest kept change" in r.getMessage() for r in caplog.records)
    assert report.reconciled >= 1
    assert events_about(store, {practice}) == [
        ("wiki.reconcile", f"page:{practice}", f"wiki:reconcile:{result.pageid}:{result.revid}")
    ]
    assert report.cursor == stored_cursor(store) == wiki.bot().latest_cursor()
    # The next poll reads normally from there.
    assert not poll_wiki(store, settings_for(wiki), client=wiki.bot()).cursor_too_old


def test_poll_wiki_command(
    wiki: SessionWiki, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("CONSTELLATE_"):
            monkeypatch.delenv(name)
    sections = {
        "service": {"secret_key": "s" * 40},
        "store": {"url": store_url},
        "wiki": wiki.config(),
    }
    config = tmp_path / "constellate.toml"
    config.write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
            for name, values in sections.items()
        )
    )
    runner = CliRunner()
    env = {"CONSTELLATE_CONFIG": str(config)}
    first = runner.invoke(poll, ["wiki"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["started_fresh"] is True
    wiki.human().edit(wiki.title("Poll Command"), "Text.", summary="create", mode="create")
    second = runner.invoke(poll, ["wiki"], env=env)
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["recorded"] >= 1 and report["started_fresh"] is False
