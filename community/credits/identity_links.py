"""Reversible identity links: what a moderator's link changed, recorded so that an unlink
puts the people back exactly as they were.

Credit follows accounts (ledger rows and totals are per account), so moving an account
between people moves its credit. A link moves one account to the person of the account
it joins and removes the person it leaves when that one has no account left; the record
keeps that person (id, name, organisation, opt-out) and the joined person's fields
before and after, and undoing it brings the same person back under the same id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from community.credits.models import Account, IdentityDecision, Person

FIELDS = ("name", "organisation", "organisation_source", "opted_out")


def snapshot(person: Person) -> dict[str, Any]:
    return {"id": person.id, **{field: getattr(person, field) for field in FIELDS}}


def record_link(
    session: Session,
    moved: Account,
    joined: Account,
    *,
    moved_person: dict[str, Any],
    joined_before: dict[str, Any],
    moderator: str,
) -> IdentityDecision:
    """Record a link just made: ``moved`` now belongs to ``joined``'s person."""
    decision = IdentityDecision(
        action="link",
        platform=moved.platform,
        username=moved.username,
        joined_platform=joined.platform,
        joined_username=joined.username,
        person_id=joined.person_id,
        moved_person=moved_person,
        joined_before=joined_before,
        joined_after=snapshot(session.get_one(Person, joined.person_id)),
        decided_by=moderator,
    )
    session.add(decision)
    session.flush()
    return decision


def standing_links(session: Session, account: Account) -> list[IdentityDecision]:
    """The links not yet undone that moved ``account`` or joined it, newest first."""
    query = select(IdentityDecision).where(
        IdentityDecision.action == "link",
        IdentityDecision.undone_by.is_(None),
        or_(
            (IdentityDecision.platform == account.platform)
            & (IdentityDecision.username == account.username),
            (IdentityDecision.joined_platform == account.platform)
            & (IdentityDecision.joined_username == account.username),
        ),
    )
    return list(session.scalars(query.order_by(IdentityDecision.id.desc())))


def undo(session: Session, link: IdentityDecision, moderator: str) -> IdentityDecision:
    """Move the linked account back to the person it had (the same id, recreated when the
    link removed it) and give the joined person back the fields the link changed, unless
    someone changed them since. Recorded as an unlink."""
    moved = session.scalars(
        select(Account).where(Account.platform == link.platform, Account.username == link.username)
    ).one()
    joined = session.get(Person, link.person_id)
    back_to = moved.person_id
    if joined is not None and moved.person_id == joined.id:
        back_to = _person_again(session, link.moved_person, joined).id
        moved.person_id = back_to
        for field in FIELDS:
            if getattr(joined, field) == link.joined_after.get(field):
                setattr(joined, field, link.joined_before.get(field))
    unlink = IdentityDecision(
        action="unlink",
        platform=link.platform,
        username=link.username,
        joined_platform=link.joined_platform,
        joined_username=link.joined_username,
        person_id=back_to,
        decided_by=moderator,
    )
    session.add(unlink)
    session.flush()
    link.undone_by = unlink.id
    session.flush()
    return unlink


def _person_again(session: Session, was: dict[str, Any], joined: Person) -> Person:
    """The person the account had: still there, or made again with its id and fields."""
    found = session.get(Person, was.get("id"))
    if found is not None:
        return found
    person = Person(id=was.get("id"), **{field: was.get(field) for field in FIELDS})
    # Opting out while linked was the person's own word for both accounts: it stays.
    person.opted_out = bool(person.opted_out or joined.opted_out)
    session.add(person)
    session.flush()
    return person
