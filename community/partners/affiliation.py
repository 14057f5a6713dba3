"""Who belongs to which partner: the partner whose forum group has the person's forum
account (read through every page of members), unless a moderator chose one. A wiki
account linked to a forum account is the same person, so wiki-only contributors belong
through their identity link. Other forum groups never make anyone an organisation's.

Kept current three ways: a full read of the partner groups (``refresh_affiliations``,
on a schedule and by the commands that read the forum's people), and each group
membership webhook of a partner group, re-read from the forum before it is believed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits.models import Account, Person
from community.credits.people import ensure_account
from community.handling import HandlerContext
from community.partners.models import Partner
from connectors.discourse.client import ForumClient
from core import forum_budget
from core.errors import NotFound
from core.events import Event

FORUM_GROUP = "forum_group"  # Person.organisation_source: from a partner's forum group
MODERATOR = "moderator"  # set by a moderator: never overwritten by the forum


def refresh_affiliations(session: Session, forum: ForumClient) -> int:
    """Read every partner group's members and set each member's partner; people whose
    partner came from a group they have left lose it. A group the forum no longer has
    changes nobody (the registry sync reports it). Returns how many members were read."""
    partners = _partners(session)
    members: dict[str, str] = {}  # casefolded username -> partner name
    unread: set[str] = set()
    with forum_budget.priority("scan"):
        for partner in partners:
            try:
                names = forum.group_members(partner.group_name)
            except NotFound:
                unread.add(partner.name)
                continue
            for name in names:
                members.setdefault(name.casefold(), partner.name)
    for name in members:
        ensure_account(session, "forum", name)
    people = session.execute(
        select(Account.username, Person)
        .join(Person, Person.id == Account.person_id)
        .where(Account.platform == "forum")
    ).all()
    for username, person in people:
        wanted = members.get(username.casefold())
        if wanted is None and person.organisation in unread:
            continue  # its group could not be read: keep what we knew
        _affiliate(person, wanted)
    session.flush()
    return len(members)


def follow_membership(event: Event, ctx: HandlerContext) -> None:
    """forum.user_added_to_group / user_removed_from_group: for a partner's group, the
    member's groups are read again from the forum (the webhook is a hint, not a fact)
    and their affiliation set from them; any other group costs nothing."""
    membership: Mapping[str, Any] = event.payload.get("group_user") or {}
    group_id, user_id = membership.get("group_id"), membership.get("user_id")
    if group_id is None or user_id is None or not ctx.settings["forum"].get("url"):
        return
    partners = _partners(ctx.session)
    if not any(p.group_id == int(group_id) for p in partners):
        return
    with forum_budget.priority("sync"):
        try:
            user = ctx.forum().admin_user(int(user_id))
        except NotFound:
            return  # deleted since: nothing to belong to
    groups = {int(g["id"]) for g in user.data.get("groups") or [] if "id" in g}
    wanted = next((p.name for p in partners if p.group_id in groups), None)
    account = ensure_account(ctx.session, "forum", user.username)
    _affiliate(ctx.session.get_one(Person, account.person_id), wanted)
    ctx.session.flush()


def _partners(session: Session) -> list[Partner]:
    """Live partners, by name: a person in two partner groups belongs to the first."""
    query = select(Partner).where(Partner.retired_at.is_(None)).order_by(Partner.name)
    return list(session.scalars(query))


def _affiliate(person: Person, partner: str | None) -> None:
    if person.organisation_source == MODERATOR:
        return
    if partner is not None:
        person.organisation, person.organisation_source = partner, FORUM_GROUP
    elif person.organisation_source == FORUM_GROUP:
        person.organisation, person.organisation_source = None, None
