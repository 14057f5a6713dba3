"""The example's wiki history as planned (no platforms): many people over eighteen months,
text rewritten by others, each active constellation's lead rotated on its terms' days to
the lead the example data names, stale and fresh charters, and an export that reads back
as the plan."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from community.constellations.charter import Charter, parse_charter
from core.config import DEFAULTS
from sandbox.example_data import EXAMPLE, Constellation, organisation_name
from sandbox.wiki_history import (
    EXPORT_NS,
    PlannedPage,
    PlannedRevision,
    export_xml,
    plan_history,
)

NOW = datetime(2031, 3, 17, 14, 25, tzinfo=UTC)  # any moment: the plan is relative to it
PLAN = plan_history(EXAMPLE, NOW)
REGULARS = {p.wiki_username for p in EXAMPLE.people if not p.bot and not p.newcomer}


def page(title: str) -> PlannedPage:
    return next(p for p in PLAN if p.title == title)


def charters(constellation: Constellation) -> list[tuple[Charter, PlannedRevision]]:
    found = []
    for revision in page(constellation.name).revisions:
        charter = parse_charter(constellation.name, revision.text)
        assert charter is not None, revision.comment
        found.append((charter, revision))
    return found


def days_before_now(moment: datetime) -> int:
    return (NOW.date() - moment.date()).days


def test_every_page_is_written_by_several_people_over_eighteen_months() -> None:
    assert {p.title for p in PLAN} == {
        *(o.name for o in EXAMPLE.organisations),
        *(c.name for c in EXAMPLE.constellations),
        *(p.name for p in EXAMPLE.practices),
    }
    revisions = [r for p in PLAN for r in p.revisions]
    editors = {r.user for r in revisions}
    assert editors <= REGULARS and len(editors) >= 15
    assert 530 <= max(days_before_now(r.at) for r in revisions) <= 560
    for planned in PLAN:
        times = [r.at for r in planned.revisions]
        assert times == sorted(set(times)) and times[-1] < NOW, planned.title
        assert len({r.user for r in planned.revisions}) >= 2, planned.title


def test_people_rewrite_and_remove_what_others_wrote() -> None:
    """Paragraphs one person added that a later revision by someone else dropped."""
    removed = []
    for planned in PLAN:
        added_by: dict[str, str] = {}
        before: set[str] = set()
        for revision in planned.revisions:
            now = set(revision.text.split("\n\n"))
            for paragraph in now - before:
                added_by.setdefault(paragraph, revision.user)
            removed += [(planned.title, p) for p in before - now if added_by[p] != revision.user]
            before = now
    assert len({title for title, _ in removed}) >= 5


def test_each_constellation_rotates_on_its_terms_to_the_lead_the_data_names() -> None:
    for constellation in EXAMPLE.constellations:
        history = charters(constellation)
        final = history[-1][0]
        fields = constellation.template_fields(NOW)
        assert final.lead_partner == fields["lead_partner"]
        assert ", ".join(final.partners) == fields["partners"]
        assert ", ".join(final.stewards) == fields["stewards"]
        assert (final.status, final.beat) == (fields["status"], fields["beat"])
        assert final.forum_category == fields["forum_category"]
        assert final.started == constellation.started(NOW)
        assert final.term_end == constellation.term_end(NOW)
        changes = history[:1] + [
            (charter, revision)
            for (before, _), (charter, revision) in pairwise(history)
            if charter.lead_partner != before.lead_partner
        ]
        terms = constellation.terms
        assert [c.lead_partner for c, _ in changes] == [
            organisation_name(t.lead_partner) for t in terms
        ]
        assert [days_before_now(r.at) for _, r in changes] == [t.since for t in terms]
        # Each rotation sets its term's end, and the page says who led.
        for (charter, revision), term in zip(changes, terms, strict=True):
            assert charter.term_end == (NOW - timedelta(days=term.until)).date()
            assert f"{organisation_name(term.lead_partner)} takes the lead" in revision.text
    for constellation in EXAMPLE.constellations:
        if constellation.status == "active":
            assert len(constellation.terms) >= 3  # two rotations at least
            gaps = [a.since - b.since for a, b in pairwise(constellation.terms)]
            assert min(gaps) >= 90  # months apart


def test_one_active_charter_is_stale_and_one_fresh_and_only_cool_spaces_overran() -> None:
    stale_after = DEFAULTS["automations"]["stale_charter_days"]
    last_edit = {
        c.name: days_before_now(page(c.name).revisions[-1].at)
        for c in EXAMPLE.constellations
        if c.status == "active"
    }
    assert any(days > stale_after for days in last_edit.values()), last_edit
    assert any(days < stale_after for days in last_edit.values()), last_edit
    overrun = {
        c.name
        for c in EXAMPLE.constellations
        if c.status in ("active", "forming") and c.term_end(NOW) < NOW.date()
    }
    assert overrun == {"Cool Spaces"}


def test_the_same_story_at_the_same_distance_from_now_on_any_day() -> None:
    later = NOW + timedelta(days=400)

    def story(pages: list[PlannedPage], now: datetime) -> list[tuple[str, str, timedelta]]:
        return [(p.title, r.user, now - r.at) for p in pages for r in p.revisions]

    assert story(plan_history(EXAMPLE, later), later) == story(PLAN, NOW)


def test_the_export_reads_back_as_the_plan_with_its_text_escaped() -> None:
    tricky = PlannedPage(
        "Tools & <Tips>",
        "practice",
        (PlannedRevision("Ada Nwosu", NOW, 'say "hi" & <b>', "{{Practice}}\n]]> & <br/>\n"),),
    )
    pages = [*PLAN, tricky]
    root = ET.fromstring(export_xml(pages))  # noqa: S314 (our own export)
    ns = {"mw": EXPORT_NS}
    nodes = root.findall("mw:page", ns)
    assert [n.findtext("mw:title", namespaces=ns) for n in nodes] == [p.title for p in pages]
    for node, planned in zip(nodes, pages, strict=True):
        assert node.findtext("mw:ns", namespaces=ns) == "0"
        read = [
            (
                r.findtext("mw:contributor/mw:username", namespaces=ns),
                r.findtext("mw:timestamp", namespaces=ns),
                r.findtext("mw:comment", namespaces=ns),
                r.findtext("mw:model", namespaces=ns),
                r.findtext("mw:text", namespaces=ns),
            )
            for r in node.findall("mw:revision", ns)
        ]
        assert read == [
            (r.user, f"{r.at:%Y-%m-%dT%H:%M:%SZ}", r.comment, "wikitext", r.text)
            for r in planned.revisions
        ]
