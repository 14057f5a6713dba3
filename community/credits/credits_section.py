"""The credits block on constellation and practice pages: who contributed, with their
accounts on both platforms, their organisation and their credit in the page's scopes.

Everyone the wiki itself lists as a registered, non-bot contributor of the page is named,
even with no credit yet; people who opted out are counted, not named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape
from community.credits import ledger
from community.credits.models import Account, Person
from community.credits.rules import CreditRules, is_excluded, load_rules
from community.practices.models import Practice
from connectors.mediawiki import WikiClient
from core.config import Settings
from core.errors import NotFound

HEADING = "=== Credits ==="
NOTE = (
    "Credit from surviving text and pages created on the wiki and from forum activity, "
    "scored by Constellate's credit rules."
)


@dataclass
class Credited:
    """One line of the block: a person (or a wiki account we have no person for yet)."""

    name: str
    accounts: list[tuple[str, str]] = field(default_factory=list)  # (platform, username)
    organisation: str | None = None
    opted_out: bool = False
    weight: float = 0.0


def credits_block(
    session: Session,
    settings: Settings,
    *,
    scopes: Sequence[str],
    wiki_contributors: Sequence[str],
) -> list[str]:
    """The block's wikitext lines; the same ledger and contributors give the same lines."""
    rules = load_rules(settings)
    people: dict[tuple[str, str], Credited] = {}
    # Summed per account first: a busy page has hundreds of entries from a few accounts,
    # and each account costs queries.
    totals: dict[tuple[str, str], float] = {}
    for scope in dict.fromkeys(scopes):
        for entry in ledger.active_entries(session, scope=scope):
            key = (entry.platform, entry.account)
            totals[key] = totals.get(key, 0.0) + entry.weight
    for (platform, account), weight in totals.items():
        found = _credited(session, settings, rules, people, platform, account)
        if found is not None:
            found.weight += weight
    for name in wiki_contributors:
        _credited(session, settings, rules, people, "wiki", name)
    named = sorted(
        (p for p in people.values() if not p.opted_out),
        key=lambda p: (-round(p.weight, 6), p.name.casefold()),
    )
    hidden = sum(1 for p in people.values() if p.opted_out)
    lines = [HEADING, NOTE]
    lines += [_line(person) for person in named]
    if not named:
        lines.append("* No credited contributors yet.")
    if hidden:
        noun = "contributor who" if hidden == 1 else "contributors who"
        more = "and" if named else "There are"
        lines.append(f"* {more} {hidden} more {noun} asked not to be listed.")
    return lines


def practice_credits_block(
    session: Session,
    settings: Settings,
    practice: Practice,
    *,
    wiki_contributors: Sequence[str] = (),
) -> list[str]:
    """The credits block for a practice page (its page's scope)."""
    return credits_block(
        session, settings, scopes=[f"page:{practice.page_id}"], wiki_contributors=wiki_contributors
    )


def page_contributors(wiki: WikiClient, title: str) -> list[str]:
    """The wiki's registered, non-bot contributors of a page; none for a missing page."""
    try:
        return wiki.contributors(title)
    except NotFound:
        return []


def _credited(
    session: Session,
    settings: Settings,
    rules: CreditRules,
    people: dict[tuple[str, str], Credited],
    platform: str,
    username: str,
) -> Credited | None:
    """The line ``username`` counts towards, made on first sight; None when excluded."""
    account = session.scalars(
        select(Account).where(Account.platform == platform, Account.username == username)
    ).first()
    if is_excluded(
        rules, settings, platform, username, is_bot=account is not None and account.is_bot
    ):
        return None
    if account is None:  # a wiki contributor nobody has credited yet
        key = (platform, username)
        if key not in people:
            people[key] = Credited(name=username, accounts=[(platform, username)])
        return people[key]
    key = ("person", str(account.person_id))
    if key not in people:
        person = session.get(Person, account.person_id)
        accounts = session.scalars(
            select(Account)
            .where(Account.person_id == account.person_id, Account.is_bot.is_(False))
            .order_by(Account.platform.desc(), Account.username)  # wiki first, then forum
        )
        pairs = [(a.platform, a.username) for a in accounts]
        people[key] = Credited(
            name=(person.name if person and person.name else username),
            accounts=pairs,
            organisation=person.organisation if person else None,
            opted_out=bool(person and person.opted_out),
        )
    return people[key]


def _line(person: Credited) -> str:
    accounts = ", ".join(f"{platform}: {escape(name)}" for platform, name in person.accounts)
    where = escape(person.organisation) if person.organisation else "no partner organisation"
    return f"* {escape(person.name)} ({accounts}; {where}): {round(person.weight, 2):g}"
