"""The event catalogue (core/event_kinds.py) is the only place a kind is spelled, every
kind a producer can make is in it, and each is handled or ignored on purpose."""

from __future__ import annotations

import ast
import itertools
from datetime import UTC, datetime

from connectors.mediawiki import WikiChange
from core import event_kinds
from service import dispatch
from tests.test_boundaries import ROOT, python_files
from webhooks.incoming import discourse_events, wiki_events

CATALOGUE_FILE = "core/event_kinds.py"
PRODUCT = ("core/", "connectors/", "community/", "webhooks/", "dashboards/", "service/")
# Events whose kind is not one of the catalogue's constants, each for a reason.
DERIVED_KINDS = {
    # a Discourse event name we read: checked against the catalogue below
    ("webhooks/incoming/discourse_events.py", "kind_of(event_name)"),
    # a wiki change's type: checked against the catalogue below
    ("webhooks/incoming/wiki_events.py", "kind_of(change)"),
    # an event as the inbox stored it
    ("core/inbox.py", "row.kind"),
    # a credit duty's kind: DUTIES maps each duty to a catalogue constant
    ("community/credits/handlers.py", "DUTIES[duty]"),
    # an event file given to a dry run, as its author wrote it
    ("webhooks/automations/dry_run.py", "kind"),
    # a health alert raised or resolved: one of the two catalogue constants, passed in
    ("community/health/alerts.py", "kind"),
    # a scheduled slot's event: its caller passes a catalogue constant
    ("core/events.py", "kind"),
    # an automation rule's own outgoing webhook (AUTOMATION_PREFIX), never in the inbox
    ("webhooks/automations/actions.py", "str(params['type'])"),
}


def product_files() -> list[tuple[str, ast.Module]]:
    found = []
    for path in python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(PRODUCT):
            found.append((relative, ast.parse(path.read_text())))
    return found


def test_each_kind_is_handled_or_ignored_on_purpose_never_both() -> None:
    undecided = [k.name for k in event_kinds.CATALOGUE if bool(k.handlers) == bool(k.ignored)]
    assert undecided == []
    assert len(event_kinds.BY_NAME) == len(event_kinds.CATALOGUE)  # each listed once


def test_the_dispatch_table_is_the_catalogue() -> None:
    assert set(dispatch.HANDLERS) == set(event_kinds.handled())
    assert event_kinds.ignored() == dispatch.IGNORED
    for kind, names in event_kinds.handled().items():
        assert [f"{h.__module__}.{h.__name__}" for h in dispatch.HANDLERS[kind]] == list(names)


def test_every_kind_is_spelled_once() -> None:
    spelled = []
    for relative, tree in product_files():
        if relative == CATALOGUE_FILE:
            continue
        spelled += [
            f"{relative}:{node.lineno}: {node.value}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in event_kinds.BY_NAME
        ]
    assert spelled == []


def test_every_event_made_takes_its_kind_from_the_catalogue() -> None:
    constants = {
        name
        for name, value in vars(event_kinds).items()
        if name.isupper() and isinstance(value, str) and value in event_kinds.BY_NAME
    }
    strays = []
    for relative, tree in product_files():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and _called(node) in {"Event", "replace"}):
                continue
            for keyword in node.keywords:
                if keyword.arg != "kind":
                    continue
                value = keyword.value
                named = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
                if named in constants or (relative, ast.unparse(value)) in DERIVED_KINDS:
                    continue
                strays.append(f"{relative}:{node.lineno}: kind={ast.unparse(value)}")
    assert strays == []


def _called(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def test_the_forum_kinds_read_are_the_catalogue_s() -> None:
    read = {discourse_events.kind_of(name) for name in discourse_events.READ}
    assert read == event_kinds.produced_by("webhooks.incoming.discourse_events")


def test_every_wiki_change_has_a_kind_of_the_catalogue() -> None:
    types = ("edit", "new", "log", "categorize", "external")
    logs = (None, "move", "delete", "protect", "upload")
    actions = (None, "delete", "delete_redir", "restore", "move", "overwrite")
    made = {
        wiki_events.kind_of(_change(kind, log_type, action))
        for kind, log_type, action in itertools.product(types, logs, actions)
    }
    made.add(wiki_events.reconcile_event("Page", 1, 2, datetime(2026, 1, 1, tzinfo=UTC), None).kind)
    assert made == event_kinds.produced_by("webhooks.incoming.wiki_events")


def _change(kind: str, log_type: str | None, action: str | None) -> WikiChange:
    return WikiChange(
        cursor="",
        rcid=1,
        type=kind,
        title="Page",
        ns=0,
        pageid=1,
        revid=2,
        old_revid=1,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        user=None,
        comment=None,
        bot=False,
        minor=False,
        old_size=None,
        new_size=None,
        log_type=log_type,
        log_action=action,
    )


def test_each_producer_named_exists() -> None:
    missing = [
        kind.name
        for kind in event_kinds.CATALOGUE
        if not (ROOT / (kind.produced_by.replace(".", "/") + ".py")).is_file()
    ]
    assert missing == []


def test_the_events_document_is_the_catalogue() -> None:
    document = (ROOT / "docs" / "events.md").read_text()
    assert event_kinds.table() in document, "regenerate: python -m core.event_kinds"


def test_the_scan_sees_kinds_spelled_anywhere() -> None:
    sample = ast.parse('KIND = "forum.post_created"\nEvent(kind=f"wiki.{x}")\n')
    found = [n for n in ast.walk(sample) if isinstance(n, ast.Constant)]
    assert [n.value for n in found if n.value in event_kinds.BY_NAME] == ["forum.post_created"]
