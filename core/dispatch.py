"""The dispatch table: event kind -> handlers, and the kinds ignored on purpose."""

from __future__ import annotations

from collections.abc import Mapping

from core.handling import Handler


class UnknownKind(LookupError):
    """An event kind that is neither handled nor ignored on purpose."""


HANDLERS: Mapping[str, tuple[Handler, ...]] = {}
IGNORED: frozenset[str] = frozenset()


def handlers_for(kind: str) -> tuple[Handler, ...]:
    """The handlers of ``kind`` (empty when ignored on purpose); UnknownKind otherwise."""
    if kind in IGNORED:
        return ()
    if kind not in HANDLERS:
        raise UnknownKind(kind)
    return HANDLERS[kind]
