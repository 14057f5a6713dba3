"""The {{Practice}} template and Discourse's tag rules (no platforms needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from community.practices.page import PracticeError, parse_practice
from community.practices.tags import TagError, base36, check_tag, clean_tag, tag_for
from sandbox.example_data import EXAMPLE
from sandbox.wiki_history import plan_history

FULL = """Intro.
{{practice
| summary = A weekly call where partners share <!-- not this --> one [[Win|win]]
| originating_organisation = Harbour Food Bank
| adopted_by = North Pantry, City Kitchen, , North Pantry
| related_constellations = Food data standard
| tag = weekly-win
| aliases = win call, Wins and Blockers
}}
Human text."""


def test_parse_reads_plain_text_and_lists() -> None:
    page = parse_practice("Weekly win", FULL)
    assert page is not None
    assert page.summary == "A weekly call where partners share one win"
    assert page.originating_organisation == "Harbour Food Bank"
    assert page.adopted_by == ("North Pantry", "City Kitchen")
    assert page.related_constellations == ("Food data standard",)
    assert page.tag == "weekly-win"
    assert page.aliases == ("win call", "Wins and Blockers")


def test_a_page_without_the_template_is_not_a_practice() -> None:
    assert parse_practice("Other", "{{Constellation|goal=x}} text") is None


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        (
            "{{Practice|summary=a|originating_organisation=b}}{{Practice|summary=c}}",
            "template",
            "2",
        ),
        ("{{Practice|originating_organisation=b}}", "summary", "missing"),
        (
            "{{Practice|summary=a|originating_organisation= <!-- x --> }}",
            "originating_organisation",
            "missing",
        ),
        ("{{Practice|summary=a|originating_organisation=b|tag=Rain Garden}}", "tag", "rain-garden"),
        (
            "{{Practice|summary=a|originating_organisation=b|tag=a-very-long-tag-name-indeed}}",
            "tag",
            "longer",
        ),
    ],
)
def test_malformed_templates_name_the_field(text: str, field: str, problem: str) -> None:
    with pytest.raises(PracticeError) as caught:
        parse_practice("Broken", text)
    assert caught.value.field == field and caught.value.title == "Broken"
    assert problem in caught.value.problem


def test_example_practices_carry_their_seeded_forum_tags_in_every_revision() -> None:
    tags = {practice.name: practice.tag for practice in EXAMPLE.practices}
    pages = [p for p in plan_history(EXAMPLE, datetime(2030, 6, 1, tzinfo=UTC)) if p.title in tags]
    assert len(pages) == len(tags)
    for planned in pages:
        for revision in planned.revisions:
            page = parse_practice(planned.title, revision.text)
            assert page is not None and page.tag == tags[planned.title]


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("Rain Garden Build Day", "rain-garden-build-da"),
        ("  Heat   Buddy\tCalls ", "heat-buddy-calls"),
        ("Who? What! (draft) #1, v2.0", "who-what-draft-1-v20"),
        ("--Café -- à la carte--", "café-à-la-carte"),
        ("a/b\\c", "abc"),
        ("tabs\u2028and ☃ snow", "tabs-and-snow"),
    ],
)
def test_clean_tag_follows_discourse(name: str, tag: str) -> None:
    assert clean_tag(name) == tag


def test_check_tag() -> None:
    check_tag("rain-garden-day")
    for bad in ("", "Rain", "rain garden", "-rain", "x" * 21):
        with pytest.raises(TagError):
            check_tag(bad)


def test_tag_for_is_stable_and_collision_free() -> None:
    assert tag_for("Heat Buddy Calls", 7, max_length=20, taken=set()) == "heat-buddy-calls"
    taken = {"heat-buddy-calls"}
    assert tag_for("Heat Buddy Calls", 7, max_length=20, taken=taken) == "heat-buddy-calls-7"
    long_a = tag_for("Community Retrofit Circle Notes", 1000, max_length=20, taken=set())
    long_b = tag_for("Community Retrofit Circle Notes", 1001, max_length=20, taken=set())
    assert long_a == "community-retrofi-rs" and long_b == "community-retrofi-rt"
    assert long_a == tag_for("Community Retrofit Circle Notes", 1000, max_length=20, taken=set())
    # Even a people-made tag that looks like ours is not shared.
    other = tag_for("Community Retrofit Circle Notes", 1000, max_length=20, taken={long_a})
    assert other != long_a and len(other) <= 20
    check_tag(other)
    assert tag_for("???", 35, max_length=20, taken=set()) == "practice-z"
    assert base36(0) == "0" and base36(36 * 36) == "100"


def test_linked_titles_normalise_wiki_urls_and_links() -> None:
    from community.practices.tagging import linked_titles

    settings = {"wiki": {"url": "http://wiki.example.org", "script_path": "/w/"}}
    text = (
        "See http://wiki.example.org/w/index.php?title=Rain_garden_%28day%29&oldid=3, "
        "(http://wiki.example.org/wiki/heat_Buddy_calls) and [[ cover_crop log |the log]] "
        "or [[:Warm welcome#Steps]]; not https://other.example.org/wiki/Street_flood_plan "
        "nor http://wiki.example.org/w/index.php?title=Draught%20proofing."
    )
    assert linked_titles(text, settings) == {
        "Rain garden (day)",
        "Heat Buddy calls",
        "Cover crop log",
        "Warm welcome",
        "Draught proofing",
    }
