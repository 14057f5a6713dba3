"""Who belongs to which partner, against the forum sandbox (issue 21): only partner
groups make anyone an organisation's, read through every page of their members on a
forum with more groups than one page lists; a moderator's choice wins; membership
webhooks of a partner group are re-read from the forum and change the affiliation."""

from __future__ import annotations

from sqlalchemy import select

from community.credits import people
from community.credits.models import Account, Person
from community.handling import HandlerContext
from community.partners.affiliation import follow_membership, refresh_affiliations
from community.partners.registry import sync_partners
from connectors.discourse.records import Group
from core.events import Event
from tests.community.constellations.sync_support import SyncRig
from tests.community.forum_deliveries import deliveries, events_of
from tests.community.test_partners import make_partner
from tests.conftest import SessionForum

MEMBERS = 60  # more than one page of group members (50)
GROUPS_PAGE = 36  # what one page of /groups.json lists


def new_users(rig: SyncRig, prefix: str, count: int) -> list[str]:
    names = [rig.session_forum.name(prefix) for _ in range(count)]
    for name in names:
        rig.forum.create_user(name, name.title(), f"{name}@example.org")
    return names


def partner_with_group(rig: SyncRig, prefix: str) -> tuple[str, Group]:
    """A partner page synced: its name and its forum group."""
    group = rig.session_forum.name(prefix)
    name = f"Partner {group}"
    assert sync_partners(
        rig.store, rig.settings, titles=[make_partner(rig, name, group)], wiki=rig.wiki,
        forum=rig.forum,
    ).counts == {"created": 1}  # fmt: skip
    return name, rig.forum.get_group(group)


def affiliation(rig: SyncRig, username: str) -> tuple[str | None, str | None]:
    with rig.store.session() as session:
        account = session.scalars(
            select(Account).where(Account.platform == "forum", Account.username == username)
        ).first()
        if account is None:
            return None, None
        person = session.get_one(Person, account.person_id)
        return person.organisation, person.organisation_source


def member_reads(forum: SessionForum, group: Group) -> int:
    path = f"/groups/{group.name}/members.json"
    return sum(1 for call in forum.forum.api_log if call.path == path)


def test_only_partner_groups_make_affiliations_through_every_page_of_members(
    rig: SyncRig,
) -> None:
    while len(rig.forum.groups()) <= GROUPS_PAGE:  # other groups: stewards, translators…
        rig.forum.create_group(rig.session_forum.name("ng"))
    name, group = partner_with_group(rig, "pg")
    stewards = rig.forum.create_group(rig.session_forum.name("st"), full_name="Stewards")
    members = new_users(rig, "m", MEMBERS)
    rig.forum.add_group_members(group, members)
    [outsider, chosen] = new_users(rig, "o", 2)
    rig.forum.add_group_members(stewards, [outsider, members[1]])
    rig.forum.add_group_members(group, [chosen])
    with rig.store.session() as session:
        person = session.get_one(Person, people.ensure_account(session, "forum", chosen).person_id)
        people.set_organisation(session, person, "North Pantry", "mod_anna")
    reads = member_reads(rig.session_forum, group)

    with rig.store.session() as session:
        assert refresh_affiliations(session, rig.forum) >= MEMBERS + 1

    assert member_reads(rig.session_forum, group) == reads + 2  # two pages of members
    assert {affiliation(rig, m) for m in members} == {(name, "forum_group")}
    assert affiliation(rig, outsider) == (None, None)  # a stewards group is no partner
    assert affiliation(rig, chosen) == ("North Pantry", "moderator")  # the moderator's wins

    rig.forum.remove_group_members(group, [members[0]])
    with rig.store.session() as session:
        refresh_affiliations(session, rig.forum)
    assert affiliation(rig, members[0]) == (None, None)  # left the partner's group
    assert affiliation(rig, members[1]) == (name, "forum_group")


def test_a_partner_groups_membership_webhook_is_read_again_and_followed(
    rig: SyncRig, forum: SessionForum
) -> None:
    name, group = partner_with_group(rig, "pw")
    other = rig.forum.create_group(rig.session_forum.name("ow"))
    [joiner] = new_users(rig, "j", 1)

    def follow(events: list[Event]) -> int:
        """The events through the handler; returns the forum requests it made."""
        before = len(forum.forum.api_log)
        for event in events:
            with rig.store.session() as session:
                follow_membership(event, HandlerContext(session, rig.settings))
        return len(forum.forum.api_log) - before

    with deliveries(forum) as receiver:
        rig.forum.add_group_members(group, [joiner])
        rig.forum.add_group_members(other, [joiner])
        joined = events_of(forum, receiver, "group_user")
        assert [e.kind for e in joined] == ["forum.user_added_to_group"] * 2

        assert follow(joined[1:]) == 0  # another group's membership: not read, not followed
        assert affiliation(rig, joiner) == (None, None)
        assert follow(joined[:1]) == 1  # the member read again from the forum
        assert affiliation(rig, joiner) == (name, "forum_group")

        rig.forum.remove_group_members(group, [joiner])
        left = events_of(forum, receiver, "group_user")[len(joined) :]
    assert [e.kind for e in left] == ["forum.user_removed_from_group"]
    follow(joined[:1])  # a late replay of the join: the forum says otherwise now
    assert affiliation(rig, joiner) == (None, None)
    follow(left)
    assert affiliation(rig, joiner) == (None, None)
