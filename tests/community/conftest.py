"""The sync rig on both stores, for the community tests that take ``rig``; the same with
the service's app and DiscourseConnect set up on the sandbox (``linking``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from service.app import create_app
from tests.community.constellations.sync_support import SyncRig, on_store
from tests.conftest import SessionForum, SessionWiki

CONNECT_SECRET = "connect-secret-" + "z" * 20
CONNECT_HOST = "constellate.example.org"


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[SyncRig]:
    made = on_store(SyncRig(wiki, forum, tmp_path), store_url)
    yield made
    made.store.dispose()


@pytest.fixture
def linking(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[tuple[SyncRig, Flask]]:
    """The rig on both stores and the service's app, with DiscourseConnect set up on the
    sandbox for the service's host."""
    made = on_store(SyncRig(wiki, forum, tmp_path), store_url)
    made.forum.site_settings(
        enable_discourse_connect_provider="true",
        discourse_connect_provider_secrets=f"{CONNECT_HOST}|{CONNECT_SECRET}",
    )
    settings = {
        **made.settings,
        "service": {**made.settings["service"], "base_url": f"https://{CONNECT_HOST}"},
        "forum": {**made.settings["forum"], "connect_secret": CONNECT_SECRET},
    }
    yield made, create_app(settings)
    made.store.dispose()
