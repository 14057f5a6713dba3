"""A moderator's rescore of a period: the one way a rules version reaches contributions
scored before it was written.

Every active row that happened in the period, weighed by a credit rule, is compared with
what the version in force at its moment gives; a row whose weight differs gets a counter-entry
and a new row with the new weight and version (``|rescore:<id>`` in its ref), so the
ledger still shows the old score and why it changed. The rescore itself is recorded:
who, when, the period and the versions rows moved between.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import ledger
from community.credits.ledger import FIELD_LIMIT, RESCORED, Contribution, base_ref, fit_key
from community.credits.models import CreditEntry, CreditRescore
from community.credits.rules import CreditRules
from core import clock

TOLERANCE = 1e-9


class RescoreError(ValueError):
    """A rescore asked for a period that is not one."""


def rescore(
    session: Session,
    rules: CreditRules,
    *,
    period_from: datetime,
    period_to: datetime | None = None,
    requested_by: str,
    dry_run: bool = False,
) -> CreditRescore:
    """Weigh again every rule-scored active row that happened in [from, to) (to: now).
    A dry run records nothing and answers what would change."""
    now = clock.now()
    until = period_to or now
    if until <= period_from:
        raise RescoreError(f"the period ends ({until:%Y-%m-%d}) before it starts")
    record = CreditRescore(
        requested_by=requested_by, requested_at=now, period_from=period_from, period_to=until
    )
    if not dry_run:
        session.add(record)
        session.flush()
    changes: dict[tuple[str | None, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for entry in _rows(session, rules, period_from, until):
        version = rules.at(entry.occurred_at)
        units = _units(rules, entry)
        if units is None:
            continue  # a legacy row whose old weight says nothing of what it counted
        weight = version.points(entry.kind, units)
        if abs(entry.weight - weight) <= TOLERANCE:
            continue  # the same score: the row keeps the version that wrote it
        change = changes[(entry.rules_version, version.label)]
        change[0] += 1
        change[1] += weight - entry.weight
        if dry_run:
            continue
        reason = f"rescored by {requested_by} (rescore {record.id})"
        ledger.cancel(session, entry.entry_key, reason=reason, at=now)
        if weight > 0:
            ledger.credit(session, _again(entry, record.id, weight, version.label, units))
    record.changes = [
        {"from": old, "to": new, "rows": int(n), "points": round(delta, 6)}
        for (old, new), (n, delta) in sorted(changes.items(), key=lambda c: (str(c[0][0]), c[0][1]))
    ]
    record.rows = sum(int(n) for n, _ in changes.values())
    session.flush()
    return record


def _rows(
    session: Session, rules: CreditRules, start: datetime, until: datetime
) -> list[CreditEntry]:
    """Active rows in the period that a credit rule weighed (not an automation's)."""
    kinds = set(rules.versions[0].weights)
    cancelled = select(CreditEntry.cancels_key).where(CreditEntry.cancels_key.is_not(None))
    query = (
        select(CreditEntry)
        .where(
            CreditEntry.cancels_key.is_(None),
            CreditEntry.entry_key.not_in(cancelled),
            CreditEntry.occurred_at >= start,
            CreditEntry.occurred_at < until,
            CreditEntry.kind.in_(sorted(kinds)),
            CreditEntry.rule == CreditEntry.kind,
        )
        .order_by(CreditEntry.occurred_at, CreditEntry.id)
    )
    return list(session.scalars(query))


def _units(rules: CreditRules, entry: CreditEntry) -> float | None:
    """What the row counted; for a row written before rows kept it, read back from its
    weight under the version in force when it happened."""
    if entry.units is not None:
        return entry.units
    if entry.kind != "wiki_text":
        return 1.0
    version = rules.at(entry.occurred_at)
    per_unit = version.points("wiki_text", 1.0)
    return round(entry.weight / per_unit) if per_unit > 0 else None


def _again(
    entry: CreditEntry, rescore_id: int, weight: float, label: str, units: float
) -> Contribution:
    return Contribution(
        platform=entry.platform,
        account=entry.account,
        kind=entry.kind,
        object=entry.object,
        ref=fit_key(f"{base_ref(entry.ref)}{RESCORED}{rescore_id}", FIELD_LIMIT),
        weight=weight,
        occurred_at=entry.occurred_at,
        rule=entry.rule,
        scope=entry.scope,
        rules_version=label,
        units=units,
    )
