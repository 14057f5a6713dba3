"""What a scope reads: its category's posts of the look-back, and the earlier posts of
topics that started before it (what their replies answer), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from community.health.inputs import ScopeSpec, load_inputs, look_back_days
from core.config import DEFAULTS
from core.store import Store
from tests.dashboards.overview_support import post

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CATEGORY = 77
OTHER = 78


def test_a_scope_reads_the_earlier_posts_of_topics_answered_in_its_look_back(
    store: Store,
) -> None:
    settings = copy.deepcopy(DEFAULTS)
    spec = ScopeSpec(f"category:{CATEGORY}", "category", "Category 77", CATEGORY)
    back = look_back_days(settings, spec) * DAY
    with store.session() as session:
        # Topic 1 started before the look-back, answered twice: once before, once in it.
        post(session, 1, 1, 1, "alice", NOW - back - 2 * DAY, category_id=CATEGORY)
        post(session, 2, 1, 2, "bob", NOW - back - DAY, category_id=CATEGORY)
        post(session, 3, 1, 3, "carol", NOW - DAY, category_id=CATEGORY)
        # Topic 2 started and ended before the look-back: nothing of it is read.
        post(session, 4, 2, 1, "alice", NOW - back - 3 * DAY, category_id=CATEGORY)
        post(session, 5, 2, 2, "bob", NOW - back - DAY, category_id=CATEGORY)
        # Topic 3 in the look-back, with a reply after now (not seen).
        post(session, 6, 3, 1, "bob", NOW - 2 * DAY, category_id=CATEGORY)
        post(session, 7, 3, 2, "alice", NOW + DAY, category_id=CATEGORY)
        # Another category's topic.
        post(session, 8, 4, 1, "carol", NOW - DAY, category_id=OTHER)
    with store.session() as session:
        inputs = load_inputs(session, settings, spec, now=NOW)
    assert sorted(row.post_id for row in inputs.rows) == [1, 2, 3, 6]
