"""The credit ledger: append-only rows of who contributed what, and counter-entries.

A contribution is written once (its key is unique, so a replayed event writes nothing);
a withdrawn contribution (deleted post, unaccepted solution) gets a counter-entry with
the negative weight. Rows are never updated or deleted, so every score can be explained;
the sums per account and kind are kept beside them (``credit_totals``) as each row is
written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, select
from sqlalchemy.orm import Session

from community.credits import people
from community.credits.models import Account, CreditEntry, CreditTotal
from community.credits.rules import CreditRules
from core.store import dialect_insert

KEY_LIMIT = 255
FIELD_LIMIT = 128  # the object and ref columns
CANCEL_PREFIX = "cancel|"
RESCORED = "|rescore:"  # a rescored row's ref: the original's, then the rescore's id


@dataclass(frozen=True)
class Contribution:
    platform: str  # "wiki" | "forum"
    account: str  # username as the platform spells it
    kind: str  # wiki_text | page_created | forum_reply | accepted_solution | ...
    object: str  # "page:<pageid>", "post:<id>", "practice:<pageid>"
    ref: str  # revision id, post id, "like:<username>", "adoption:<org>", ...
    weight: float
    occurred_at: datetime
    rule: str  # the scoring rule's name
    scope: str | None = None  # "page:<pageid>" | "category:<id>" | None
    rules_version: str | None = None  # the credit rules version that weighed it
    units: float | None = None  # what the weight is for: tokens of text, 1 reply, ...

    @property
    def key(self) -> str:
        return fit_key(f"{self.kind}|{self.platform}|{self.object}|{self.ref}|{self.account}")


def scored(
    rules: CreditRules,
    *,
    platform: str,
    account: str,
    kind: str,
    object: str,
    ref: str,
    occurred_at: datetime,
    scope: str | None,
    units: float = 1.0,
) -> Contribution:
    """The contribution weighed by the rules version in force when it happened."""
    version = rules.at(occurred_at)
    return Contribution(
        platform=platform,
        account=account,
        kind=kind,
        object=object,
        ref=ref,
        weight=version.points(kind, units),
        occurred_at=occurred_at,
        rule=kind,
        scope=scope,
        rules_version=version.label,
        units=units,
    )


def base_ref(ref: str) -> str:
    """A row's ref without a rescore's suffix: the contribution it stands for."""
    return ref.split(RESCORED, 1)[0]


def fit_key(key: str, limit: int = KEY_LIMIT) -> str:
    """Keys (and refs, objects) longer than their column keep a readable head and a hash
    of the whole text, so two long ones that share a head stay distinct."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{key[: limit - len(digest) - 1]}#{digest}"


def credit(session: Session, contribution: Contribution) -> bool:
    """Record a contribution once; True when it is new. The account gets a person too."""
    people.ensure_account(session, contribution.platform, contribution.account)
    c = contribution
    values = {
        "entry_key": c.key,
        "platform": c.platform,
        "account": c.account,
        "kind": c.kind,
        "object": fit_key(c.object, FIELD_LIMIT),
        "ref": fit_key(c.ref, FIELD_LIMIT),
        "weight": c.weight,
        "occurred_at": c.occurred_at,
        "rule": c.rule,
        "scope": c.scope,
        "rules_version": c.rules_version,
        "units": c.units,
    }
    return _insert_once(session, values)


def cancel(session: Session, key: str, *, reason: str, at: datetime) -> bool:
    """Write the counter-entry for ``key`` once; False when absent or already cancelled."""
    original = session.scalars(
        select(CreditEntry).where(CreditEntry.entry_key == key, CreditEntry.cancels_key.is_(None))
    ).first()
    if original is None:
        return False
    values = {
        "entry_key": fit_key(CANCEL_PREFIX + key),
        "platform": original.platform,
        "account": original.account,
        "kind": original.kind,
        "object": original.object,
        "ref": original.ref,
        "weight": -original.weight,
        "occurred_at": at,
        "rule": original.rule,
        "scope": original.scope,
        "rules_version": original.rules_version,
        "units": original.units,
        "cancels_key": key,
        "reason": reason,
    }
    return _insert_once(session, values)


def cancel_object(
    session: Session,
    *,
    platform: str,
    object: str,
    reason: str,
    at: datetime,
    kind: str | None = None,
    up_to: datetime | None = None,
) -> int:
    """Cancel every still-active entry for an object (a deleted post, a deleted page);
    only those of ``kind`` when given, and only those that occurred by ``up_to`` when
    given (a replayed deletion then leaves the credit of a later recovery alone)."""
    entries = active_entries(session, platform=platform, object=object, kind=kind)
    return sum(
        cancel(session, entry.entry_key, reason=reason, at=at)
        for entry in entries
        if up_to is None or _aware(entry.occurred_at) <= _aware(up_to)
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def active_entries(
    session: Session,
    *,
    account: str | None = None,
    platform: str | None = None,
    object: str | None = None,
    kind: str | None = None,
    scope: str | None = None,
) -> list[CreditEntry]:
    """Entries that count: not counter-entries and not cancelled by one."""
    session.flush()
    cancelled = select(CreditEntry.cancels_key).where(CreditEntry.cancels_key.is_not(None))
    query = select(CreditEntry).where(
        CreditEntry.cancels_key.is_(None), CreditEntry.entry_key.not_in(cancelled)
    )
    filters = {
        CreditEntry.account: account,
        CreditEntry.platform: platform,
        CreditEntry.object: object,
        CreditEntry.kind: kind,
        CreditEntry.scope: scope,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    return list(session.scalars(query.order_by(CreditEntry.occurred_at, CreditEntry.id)))


_of_account = and_(
    Account.platform == CreditEntry.platform, Account.username == CreditEntry.account
)


def _insert_once(session: Session, values: dict[str, Any]) -> bool:
    """The only writer of the ledger, so the totals it keeps beside it stay exact."""
    statement = dialect_insert(session, CreditEntry).values(**values).on_conflict_do_nothing()
    # RETURNING tells inserted from skipped on both dialects (rowcount is unreliable).
    if session.execute(statement.returning(CreditEntry.id)).scalar() is None:
        return False
    _add_to_totals(session, values)
    return True


def rebuild_totals(session: Session | Connection) -> None:
    """Sum the whole ledger into ``credit_totals`` again: for stores whose ledger was
    written around this module (the benchmark's generated one)."""
    counter = CreditEntry.cancels_key.is_not(None)
    sums = (
        select(
            Account.id,
            CreditEntry.kind,
            func.sum(CreditEntry.weight),
            func.sum(case((counter, 0), else_=1)),
            func.sum(case((counter, 1), else_=0)),
        )
        .join(
            Account,
            and_(Account.platform == CreditEntry.platform, Account.username == CreditEntry.account),
        )
        .group_by(Account.id, CreditEntry.kind)
    )
    totals = CreditTotal.__table__.c
    columns = [totals.account_id, totals.kind, totals.points, totals.entries, totals.cancelled]
    session.execute(delete(CreditTotal))
    session.execute(insert(CreditTotal).from_select(columns, sums))


def _add_to_totals(session: Session, values: dict[str, Any]) -> None:
    counter = values.get("cancels_key") is not None
    account_id = session.scalar(
        select(Account.id).where(
            Account.platform == values["platform"], Account.username == values["account"]
        )
    )
    added = dialect_insert(session, CreditTotal).values(
        account_id=account_id,
        kind=values["kind"],
        points=values["weight"],
        entries=0 if counter else 1,
        cancelled=1 if counter else 0,
    )
    totals = CreditTotal.__table__.c
    # An adding upsert: concurrent writers each add their share under the row's lock.
    session.execute(
        added.on_conflict_do_update(
            index_elements=[totals.account_id, totals.kind],
            set_={
                "points": totals.points + added.excluded.points,
                "entries": totals.entries + added.excluded.entries,
                "cancelled": totals.cancelled + added.excluded.cancelled,
            },
        )
    )
