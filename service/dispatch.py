"""The dispatch table: event kind -> handlers, and the kinds ignored on purpose, as the
event catalogue (core/event_kinds.py) names them.

The catalogue names handlers by their dotted path (the foundation imports nothing above
it); here, in the wiring, each name is imported once when this module loads, so a name
that does not resolve stops the service at start, not at the first event of its kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from community.handling import Handler
from core import event_kinds


class UnknownKind(LookupError):
    """An event kind that is neither handled nor ignored on purpose."""


def resolve(dotted: str) -> Handler:
    """The function a catalogue entry names ("package.module.function")."""
    module, _, name = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


HANDLERS: Mapping[str, tuple[Handler, ...]] = {
    kind: tuple(resolve(name) for name in names) for kind, names in event_kinds.handled().items()
}

# No domain handler: automation rules still see them, as they see every kind.
IGNORED: frozenset[str] = event_kinds.ignored()


def handlers_for(kind: str) -> tuple[Handler, ...]:
    """The handlers of ``kind`` (empty when ignored on purpose); UnknownKind otherwise."""
    if kind in IGNORED:
        return ()
    if kind not in HANDLERS:
        raise UnknownKind(kind)
    return HANDLERS[kind]
