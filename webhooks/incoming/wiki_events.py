"""Wiki recent changes -> Events. Pure functions: the poll and a signed push build the
same ``event_id`` (``wiki:rc:<rcid>``) for the same change, so the inbox keeps one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.mediawiki import WikiChange
from core import event_kinds
from core.events import Event

# Log entries that are page lifecycle steps get their own kind; other logs are wiki.log.
_LOG_KINDS = {
    ("move", None): event_kinds.WIKI_MOVE,
    ("delete", "delete"): event_kinds.WIKI_DELETE,
    ("delete", "delete_redir"): event_kinds.WIKI_DELETE,
    ("delete", "restore"): event_kinds.WIKI_RESTORE,
}
_RC_KINDS = {"edit": event_kinds.WIKI_EDIT, "new": event_kinds.WIKI_NEW}


def kind_of(change: WikiChange) -> str:
    """edit and new keep their rc type; log entries map by log type (and action)."""
    if change.type in _RC_KINDS:
        return _RC_KINDS[change.type]
    if change.type == "log":
        return (
            _LOG_KINDS.get((change.log_type or "", None))
            or _LOG_KINDS.get((change.log_type or "", change.log_action))
            or event_kinds.WIKI_LOG
        )
    return event_kinds.WIKI_LOG  # categorize and external entries: recorded, not acted on


def change_payload(change: WikiChange) -> dict[str, Any]:
    return {
        "rcid": change.rcid,
        "type": change.type,
        "title": change.title,
        "ns": change.ns,
        "pageid": change.pageid,
        "revid": change.revid,
        "old_revid": change.old_revid,
        "timestamp": change.timestamp.isoformat(),
        "user": change.user,
        "comment": change.comment,
        "bot": change.bot,
        "minor": change.minor,
        "old_size": change.old_size,
        "new_size": change.new_size,
        "log_type": change.log_type,
        "log_action": change.log_action,
        "log_params": dict(change.log_params),
    }


def change_event(change: WikiChange) -> Event:
    return Event(
        event_id=f"wiki:rc:{change.rcid}",
        kind=kind_of(change),
        source="wiki",
        subject=f"page:{change.title}",
        actor=change.user,
        occurred_at=change.timestamp,
        delivery_id=str(change.rcid),
        payload=change_payload(change),
    )


def reconcile_event(
    title: str, pageid: int, revid: int, timestamp: datetime, user: str | None
) -> Event:
    """A page's latest revision, found by a full reconcile after changes were lost."""
    return Event(
        event_id=f"wiki:reconcile:{pageid}:{revid}",
        kind=event_kinds.WIKI_RECONCILE,
        source="wiki",
        subject=f"page:{title}",
        actor=user,
        occurred_at=timestamp,
        delivery_id=None,
        payload={
            "title": title,
            "pageid": pageid,
            "revid": revid,
            "timestamp": timestamp.isoformat(),
            "user": user,
        },
    )
