"""The sync rig on both stores, for the community tests that take ``rig``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.community.constellations.sync_support import SyncRig, on_store
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, store_url: str
) -> Iterator[SyncRig]:
    made = on_store(SyncRig(wiki, forum, tmp_path), store_url)
    yield made
    made.store.dispose()
