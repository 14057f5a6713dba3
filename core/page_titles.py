"""Which wiki pages an event names: the handlers of constellations and practices both ask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core import event_kinds
from core.events import Event

MAIN_NAMESPACE = 0


def main_titles(event: Event) -> list[str]:
    """The article titles a wiki event concerns: the page's, and for a move also the
    new one (pages outside the main namespace are left out)."""
    data: Mapping[str, Any] = event.payload
    titles = []
    if int(data.get("ns") or MAIN_NAMESPACE) == MAIN_NAMESPACE:
        titles.append(str(data["title"]))
    params: Mapping[str, Any] = data.get("log_params") or {}
    target = params.get("target_title")
    if event.kind == event_kinds.WIKI_MOVE and target and int(params.get("target_ns") or 0) == 0:
        titles.append(str(target))
    return titles
