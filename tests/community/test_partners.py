"""The partner registry against the real wiki and the forum sandbox (issue 21): partner
pages make or link their forum groups once; bad pages and a group renamed on the forum are
sync issues that change nothing stored; a constellation naming no registered partner is
reported on the dashboard's issues and on its page until the partner is registered."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from community.constellations.models import SyncIssue
from community.constellations.sync import sync_constellations
from community.partners.models import Partner
from community.partners.names import Organisations
from community.partners.registry import sync_partners
from tests.community.constellations.sync_support import SyncRig, charter_text


def partner_text(name: str, group: str | None, **more: str) -> str:
    fields = {"name": name, **({"forum_group": group} if group is not None else {}), **more}
    lines = ["{{Partner", *(f"| {k} = {v}" for k, v in fields.items()), "}}"]
    return "\n".join(lines) + f"\n\n{name} is a partner.\n"


def make_partner(rig: SyncRig, name: str, group: str | None, **more: str) -> str:
    title = rig.session_wiki.title("Partner")
    rig.session_wiki.human().edit(
        title, partner_text(name, group, **more), summary="test", mode="create"
    )
    return title


def edit(rig: SyncRig, title: str, text: str) -> None:
    wiki = rig.session_wiki.human()
    wiki.edit(title, text, summary="test", base=wiki.read_pages([title])[title])


def sync(rig: SyncRig, titles: list[str]) -> dict[str, int]:
    summary = sync_partners(rig.store, rig.settings, titles=titles, wiki=rig.wiki, forum=rig.forum)
    return summary.counts


def partners(rig: SyncRig) -> dict[str, Partner]:
    with rig.store.session() as session:
        rows = session.scalars(select(Partner)).all()
        session.expunge_all()
    return {row.wiki_title or row.name: row for row in rows}


def open_issues(rig: SyncRig, title: str) -> list[tuple[str, str | None, str]]:
    with rig.store.session() as session:
        rows = session.scalars(
            select(SyncIssue).where(SyncIssue.wiki_title == title, SyncIssue.resolved_at.is_(None))
        )
        return [(row.kind, row.field, row.detail) for row in rows]


def group_creations(rig: SyncRig) -> int:
    return sum(
        1
        for call in rig.session_forum.forum.api_log
        if call.method == "POST" and call.path.removesuffix(".json") == "/admin/groups"
    )


def test_a_partner_page_makes_its_forum_group_once_and_links_an_existing_one(
    rig: SyncRig,
) -> None:
    made_group, existing_group = rig.session_forum.name("pm"), rig.session_forum.name("pe")
    existing = rig.forum.create_group(existing_group, full_name="Old full name")
    made = make_partner(
        rig,
        f"Harbour Trust {made_group}",
        made_group,
        website="harbour.example",
        joined="2024-02-01",
    )
    linked = make_partner(rig, f"North Pantry {existing_group}", existing_group, short_name="NP")
    before = group_creations(rig)

    assert sync(rig, [made, linked]) == {"created": 2}

    assert group_creations(rig) == before + 1  # only the missing group was made
    group = rig.forum.get_group(made_group)
    assert group.full_name == f"Harbour Trust {made_group}"
    stored = partners(rig)
    assert (stored[made].group_id, stored[made].website) == (group.id, "https://harbour.example")
    assert stored[made].joined == date(2024, 2, 1)
    assert (stored[linked].group_id, stored[linked].short_name) == (existing.id, "NP")
    with rig.store.session() as session:  # any of its names leads to the partner
        names = Organisations.read(session)
        for alias in (f"north pantry {existing_group}", "NP", existing_group):
            assert names.canonical(alias) == f"North Pantry {existing_group}"
            assert names.group_of(alias) == existing_group

    assert sync(rig, [made, linked]) == {"unchanged": 2}
    assert group_creations(rig) == before + 1


def test_bad_partner_pages_are_sync_issues_and_change_nothing_stored(rig: SyncRig) -> None:
    group = rig.session_forum.name("pb")
    first = make_partner(rig, f"Kitchen {group}", group)
    assert sync(rig, [first]) == {"created": 1}
    kept = partners(rig)[first]

    no_group = make_partner(rig, f"No group {group}", None)
    twin = make_partner(rig, f"Twin {group}", group)  # the first's forum group
    bad_site = make_partner(
        rig, f"Bad site {group}", rig.session_forum.name("pw"), website="ftp://x"
    )
    assert sync(rig, [no_group, twin, bad_site]) == {"malformed": 3}
    assert open_issues(rig, no_group) == [("malformed", "forum_group", "missing")]
    [(kind, field, detail)] = open_issues(rig, twin)
    assert (kind, field) == ("malformed", "forum_group")
    assert f"already the group of the partner page {first!r}" in detail
    assert open_issues(rig, bad_site)[0][:2] == ("malformed", "website")

    # The group renamed on the forum: reported, the partner kept as it was.
    admin = rig.session_forum.client(rig.session_forum.api_username)
    renamed = rig.session_forum.name("pr")
    admin._put(f"/groups/{kept.group_id}.json", json=True, group={"name": renamed})
    edit(rig, first, partner_text(f"Kitchen {group}", group, website="kitchen.example"))
    assert sync(rig, [first]) == {"partner": 1}
    [(kind, field, detail)] = open_issues(rig, first)
    assert (kind, field) == ("partner", "forum_group")
    assert f"now called {renamed!r}" in detail
    after = partners(rig)[first]
    assert (after.group_name, after.group_id, after.website) == (group, kept.group_id, None)

    # The page follows the forum's new name: linked again, the issue resolved.
    edit(rig, first, partner_text(f"Kitchen {group}", renamed, website="kitchen.example"))
    assert sync(rig, [first]) == {"updated": 1}
    assert open_issues(rig, first) == []
    after = partners(rig)[first]
    assert (after.group_name, after.group_id) == (renamed, kept.group_id)


def test_a_constellation_naming_an_unknown_partner_is_reported_until_it_is_registered(
    rig: SyncRig,
) -> None:
    suffix = rig.session_forum.name("")
    lead, other = f"Harbour Food Bank {suffix}", f"North Pantry {suffix}"
    lead_page = make_partner(rig, lead, rig.session_forum.name("pl"))
    assert sync(rig, [lead_page]) == {"created": 1}
    title = rig.session_wiki.title("Named partners")
    text = (
        charter_text(rig.session_forum.name("cat-"))
        .replace("| lead_partner = Harbour Food Bank", f"| lead_partner = {lead}")
        .replace(
            "| partners = Harbour Food Bank, North Pantry, City Kitchen",
            f"| partners = {lead}, {other}",
        )
    )
    rig.session_wiki.human().edit(title, text, summary="test", mode="create")

    sync_constellations(rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum)

    [(field, detail)] = [(f, d) for k, f, d in open_issues(rig, title) if k == "unknown_partner"]
    assert field == "partners"
    assert f"{other!r} is not a registered partner" in detail
    page = rig.wiki.read_pages([title])[title].text
    assert "Sync issue:" in page and "is not a registered partner" in page

    other_page = make_partner(rig, other, rig.session_forum.name("po"))
    assert sync(rig, [other_page]) == {"created": 1}
    # Its page shows it as the partnership sees it: its group, the constellations it is in.
    shown = rig.wiki.read_pages([other_page])[other_page].text
    assert "Forum group: [" in shown and "0 people belong to it" in shown
    assert f"Partner in:\n* [[{title}]]" in shown and "Leads:\n* None at the moment." in shown
    # Looked at again when the registry changed.
    assert [k for k, _, _ in open_issues(rig, title) if k == "unknown_partner"] == []
