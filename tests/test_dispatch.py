"""Every kind a normaliser can produce is handled or ignored on purpose, never both."""

from __future__ import annotations

import pytest

from core import event_kinds
from service import dispatch
from webhooks.incoming import discourse_events

# What the producers can make: every kind the catalogue lists (tests/test_event_kinds.py
# holds the producers to it) and every Discourse event the receiver reads.
PRODUCED = set(event_kinds.BY_NAME) | {
    discourse_events.kind_of(name) for name in discourse_events.READ
}


def test_every_produced_kind_is_routed() -> None:
    assert sorted(PRODUCED - (set(dispatch.HANDLERS) | dispatch.IGNORED)) == []


def test_no_kind_is_both_handled_and_ignored() -> None:
    assert sorted(set(dispatch.HANDLERS) & dispatch.IGNORED) == []


def test_the_table_names_no_kind_nobody_produces() -> None:
    assert sorted((set(dispatch.HANDLERS) | dispatch.IGNORED) - PRODUCED) == []


def test_handled_kinds_have_handlers() -> None:
    assert all(dispatch.HANDLERS[kind] for kind in dispatch.HANDLERS)


def test_handlers_for() -> None:
    assert dispatch.handlers_for("forum.user_created") == ()
    assert dispatch.handlers_for("wiki.edit")
    with pytest.raises(dispatch.UnknownKind):
        dispatch.handlers_for("forum.no_such_event")
