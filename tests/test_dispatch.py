"""Every kind a normaliser can produce is handled or ignored on purpose, never both."""

from __future__ import annotations

import pytest

from community.constellations import requests as dashboard_sync
from community.health import handlers as health_handlers
from community.practices import adoption
from community.practices import promotion_requests as dashboard_practices
from service import dispatch
from webhooks.automations import vocabulary as automations
from webhooks.incoming import discourse_events, wiki_events

PRODUCED = (
    discourse_events.KINDS
    | wiki_events.KINDS
    | adoption.KINDS
    | health_handlers.KINDS
    | automations.KINDS
    | dashboard_sync.KINDS
    | dashboard_practices.KINDS
)


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
