"""Loop prevention: what rules made is remembered, so an event about it is known as a
rule's own doing.

An action's Outcome names the objects it made or changed ("post:678"). Each becomes a
mark carrying the chain of rules that led to it. An event about a marked object inherits
that chain; a rule already ``max_depth`` times in the chain on the same subject is not
run again. Our own accounts' changes never reach rules at all (echo suppression); this
catches the rest: actions taken as another user, and receivers of our webhooks that
answer on the forum.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.events import Event
from webhooks.automations.models import AutomationMark

CHAIN_LIMIT = 50  # rule names kept per chain: enough for any depth limit


@dataclass(frozen=True)
class Chain:
    """The rules that caused an event, about one subject (empty: people caused it)."""

    subject: str = ""
    rules: tuple[str, ...] = ()

    def depth(self, rule: str, subject: str) -> int:
        """How often ``rule`` already ran in this chain on ``subject``."""
        return self.rules.count(rule) if subject == self.subject else 0

    def then(self, rule: str, subject: str) -> tuple[str, ...]:
        earlier = self.rules if subject == self.subject else ()
        return (*earlier, rule)[-CHAIN_LIMIT:]


def chain_of(session: Session, event: Event, now: datetime) -> Chain:
    """The chain of the newest live mark on the event's subject."""
    mark = session.scalars(
        select(AutomationMark)
        .where(AutomationMark.object == event.subject, AutomationMark.expires_at > now)
        .order_by(AutomationMark.id.desc())
    ).first()
    if mark is None:
        return Chain()
    return Chain(mark.subject, tuple(str(name) for name in mark.chain))


def remember(
    session: Session,
    objects: Iterable[str],
    *,
    subject: str,
    chain: Sequence[str],
    now: datetime,
    minutes: float,
) -> None:
    expires = now + timedelta(minutes=minutes)
    for obj in dict.fromkeys(objects):
        session.add(
            AutomationMark(
                object=obj, subject=subject, chain=list(chain), created_at=now, expires_at=expires
            )
        )
    session.flush()


def forget_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(AutomationMark).where(AutomationMark.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
