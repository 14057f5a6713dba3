"""Outgoing subscriptions: from configuration (synced into the store) and from the store.

Event filters are exact kinds ("forum.post_created"), a prefix wildcard
("forum.*" matches every forum kind) or "*" (everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.store import dialect_insert
from webhooks.outgoing.models import WebhookSubscription

REMOVED_FROM_CONFIG = "removed from configuration"


def matches(patterns: Iterable[str], kind: str) -> bool:
    for pattern in patterns:
        if pattern in ("*", kind):
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False


def matching(session: Session, kind: str) -> list[WebhookSubscription]:
    """Active subscriptions whose filters accept ``kind``, in a stable order."""
    rows = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.active.is_(True))
        .order_by(WebhookSubscription.id)
    )
    return [row for row in rows if matches(row.events, kind)]


def sync_config(session: Session, settings: Settings) -> None:
    """Make the store's source=config rows equal the ``[outgoing].subscriptions`` list.

    Safe to run by several processes at once: rows are inserted with ON CONFLICT
    DO NOTHING on (source, url). A subscription disabled by its receiver (410)
    stays disabled; one dropped from the file is disabled, and enabled again if
    it comes back.
    """
    wanted = {entry["url"]: entry for entry in settings["outgoing"]["subscriptions"]}
    if wanted:
        session.execute(
            dialect_insert(session, WebhookSubscription)
            .values(
                [
                    {
                        "url": url,
                        "secret": entry["secret"],
                        "events": list(entry["events"]),
                        "source": "config",
                        "active": True,
                    }
                    for url, entry in wanted.items()
                ]
            )
            .on_conflict_do_nothing(index_elements=["source", "url"])
        )
    rows = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.source == "config")
    )
    for row in rows:
        entry = wanted.get(row.url)
        if entry is None:
            if row.active:
                row.active, row.disabled_reason = False, REMOVED_FROM_CONFIG
            continue
        if row.secret != entry["secret"]:
            row.secret = entry["secret"]
        if row.events != list(entry["events"]):
            row.events = list(entry["events"])
        if not row.active and row.disabled_reason == REMOVED_FROM_CONFIG:
            row.active, row.disabled_reason = True, None


def add(session: Session, url: str, events: Sequence[str], secret: str) -> WebhookSubscription:
    """A subscription kept only in the store (source=store)."""
    row = WebhookSubscription(url=url, events=list(events), secret=secret, source="store")
    session.add(row)
    session.flush()
    return row
