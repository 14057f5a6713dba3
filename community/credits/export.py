"""Scores from the ledger: per-person totals for export and leaderboards, and the rows
behind one person's score.

People who opted out are never listed person by person; their contributions still count
in one aggregate row, so the partnership's totals stay whole."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits.models import Account, CreditEntry, CreditTotal, Person

KINDS = (
    "wiki_text",
    "page_created",
    "forum_reply",
    "accepted_solution",
    "like_received",
    "practice_authored",
    "practice_adopted",
)


@dataclass
class PersonCredit:
    person_id: int
    name: str
    accounts: list[str]  # "platform:username"
    organisation: str
    opted_out: bool
    by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.by_kind.values())


@dataclass(frozen=True)
class OptedOut:
    """Everyone who opted out, as one figure."""

    people: int
    by_kind: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.by_kind.values())

    @property
    def label(self) -> str:
        return f"opted-out contributors: {self.people} people, total {_number(self.total)}"


@dataclass(frozen=True)
class LedgerLine:
    occurred_at: datetime
    platform: str
    account: str
    kind: str
    object: str
    ref: str
    weight: float
    rule: str
    rules_version: str | None
    cancels_key: str | None
    reason: str | None


def person_credits(session: Session) -> list[PersonCredit]:
    """Every person with a ledger row, with totals per kind; highest total first."""
    rows = session.execute(
        select(Account.person_id, CreditTotal.kind, CreditTotal.points).join(
            CreditTotal, CreditTotal.account_id == Account.id
        )
    ).all()
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for person_id, kind, points in rows:
        sums[person_id][kind] += points
    if not sums:
        return []
    accounts: dict[int, list[str]] = defaultdict(list)
    for account in session.scalars(
        select(Account)
        .where(Account.person_id.in_(sums))
        .order_by(Account.platform, Account.username)
    ):
        accounts[account.person_id].append(f"{account.platform}:{account.username}")
    found = [
        PersonCredit(
            person_id=person.id,
            name=person.name or _first_name(accounts[person.id]),
            accounts=accounts[person.id],
            organisation=person.organisation or "",
            opted_out=person.opted_out,
            by_kind={k: round(v, 6) for k, v in sums[person.id].items()},
        )
        for person in session.scalars(select(Person).where(Person.id.in_(sums)))
    ]
    return sorted(found, key=lambda p: (-p.total, p.name.casefold(), p.person_id))


def split_opted_out(credits: list[PersonCredit]) -> tuple[list[PersonCredit], OptedOut]:
    """The people who may be listed, and the opted-out ones folded into one figure."""
    listed = [p for p in credits if not p.opted_out]
    hidden: dict[str, float] = defaultdict(float)
    out = [p for p in credits if p.opted_out]
    for person in out:
        for kind, weight in person.by_kind.items():
            hidden[kind] += weight
    return listed, OptedOut(people=len(out), by_kind=dict(hidden))


def leaderboard(session: Session, limit: int = 10) -> list[PersonCredit]:
    """The top people by total, opted-out people left out."""
    listed, _ = split_opted_out(person_credits(session))
    return listed[:limit]


def export_json(session: Session) -> str:
    listed, aggregate = split_opted_out(person_credits(session))
    document: dict[str, Any] = {
        "people": [
            {
                "person_id": p.person_id,
                "name": p.name,
                "accounts": p.accounts,
                "organisation": p.organisation,
                "total": p.total,
                "by_kind": {k: p.by_kind.get(k, 0.0) for k in _kinds(listed, aggregate)},
            }
            for p in listed
        ],
        "opted_out": {
            "label": aggregate.label,
            "people": aggregate.people,
            "total": aggregate.total,
            "by_kind": {k: aggregate.by_kind.get(k, 0.0) for k in _kinds(listed, aggregate)},
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export_csv(session: Session) -> str:
    listed, aggregate = split_opted_out(person_credits(session))
    kinds = _kinds(listed, aggregate)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["person_id", "name", "accounts", "organisation", "total", *kinds])
    for p in listed:
        writer.writerow(
            [
                p.person_id,
                _cell(p.name),
                _cell(" ".join(p.accounts)),
                _cell(p.organisation),
                _number(p.total),
                *(_number(p.by_kind.get(k, 0.0)) for k in kinds),
            ]
        )
    writer.writerow(
        ["", aggregate.label, "", "", _number(aggregate.total)]
        + [_number(aggregate.by_kind.get(k, 0.0)) for k in kinds]
    )
    return out.getvalue()


def explain(session: Session, person: Person) -> tuple[list[LedgerLine], float]:
    """Every ledger row behind a person's score (counter-entries included), and the total."""
    accounts = list(session.scalars(select(Account).where(Account.person_id == person.id)))
    lines: list[LedgerLine] = []
    for account in accounts:
        query = select(CreditEntry).where(
            CreditEntry.platform == account.platform, CreditEntry.account == account.username
        )
        lines.extend(
            LedgerLine(
                occurred_at=e.occurred_at,
                platform=e.platform,
                account=e.account,
                kind=e.kind,
                object=e.object,
                ref=e.ref,
                weight=e.weight,
                rule=e.rule,
                rules_version=e.rules_version,
                cancels_key=e.cancels_key,
                reason=e.reason,
            )
            for e in session.scalars(query)
        )
    lines.sort(key=lambda line: (line.occurred_at, line.cancels_key is not None, line.ref))
    return lines, round(sum(line.weight for line in lines), 6)


def _kinds(listed: list[PersonCredit], aggregate: OptedOut) -> list[str]:
    """The known kinds in their usual order, then any other kind a rule file produced."""
    seen = {k for p in listed for k in p.by_kind} | set(aggregate.by_kind)
    return [*KINDS, *sorted(seen - set(KINDS))]


def _first_name(accounts: list[str]) -> str:
    return accounts[0].split(":", 1)[1] if accounts else ""


def _number(value: float) -> str:
    return f"{value:g}"


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with these as formulas; a quote keeps them text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
