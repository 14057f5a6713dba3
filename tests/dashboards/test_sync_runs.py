"""Every reconcile leaves a record of its run (community.constellations.sync_runs), which
the Sync page lists: what it covered, how many pages it saw and changed, and why it failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from community.constellations.sync import sync_constellations
from community.constellations.sync_runs import SyncRun
from core.errors import ConnectorError
from sandbox.wiki import free_port
from tests.community.constellations.sync_support import SyncRig, charter_text, on_store
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[SyncRig]:
    made = on_store(SyncRig(wiki, forum, tmp_path), store_url)
    yield made
    made.store.dispose()


def runs(rig: SyncRig) -> list[SyncRun]:
    with rig.store.session() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id)))


def test_a_command_run_is_recorded_with_what_it_did(rig: SyncRig) -> None:
    title = rig.session_wiki.title("Sync run")
    rig.session_wiki.human().edit(
        title, charter_text(rig.session_forum.name("cat-")), summary="test", mode="create"
    )

    sync_constellations(rig.store, rig.settings, titles=[title], dry_run=True)
    assert runs(rig) == []  # a dry run changes nothing, its record included

    sync_constellations(rig.store, rig.settings, titles=[title])
    sync_constellations(rig.store, rig.settings, titles=[title])

    first, second = runs(rig)
    assert (first.trigger, first.scope, first.requested_by) == ("command", title, None)
    assert (first.pages_seen, first.pages_changed, first.error) == (1, 1, None)
    assert first.counts["created"] == 1
    assert first.finished_at is not None and first.finished_at >= first.started_at
    assert (second.pages_seen, second.pages_changed) == (1, 0)
    assert second.counts["unchanged"] == 1 and second.counts["created"] == 0


def test_a_run_that_fails_records_why(rig: SyncRig) -> None:
    settings = {
        **rig.settings,
        "wiki": {
            **rig.settings["wiki"],
            "url": f"http://127.0.0.1:{free_port()}",
            "max_retries": 0,
        },
    }
    with pytest.raises(ConnectorError):
        sync_constellations(rig.store, settings, full=True, trigger="dashboard", requested_by="ana")

    [run] = runs(rig)
    assert (run.trigger, run.scope, run.requested_by) == ("dashboard", "full", "ana")
    assert run.finished_at is not None and run.pages_seen == 0
    assert run.error is not None and run.error.startswith("Unavailable")


def test_an_unknown_trigger_is_refused(rig: SyncRig) -> None:
    with pytest.raises(ValueError, match="unknown sync trigger"):
        sync_constellations(rig.store, rig.settings, titles=["X"], trigger="cron")
    assert runs(rig) == []
