"""Parsing the {{Constellation}} template into a charter."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from community.constellations.charter import Charter, CharterError, page_url, parse_charter
from sandbox.example_data import EXAMPLE

VALID = """Intro text.
{{Constellation
| goal = Share one open data standard for food banks
| lead_partner = Harbour Food Bank
| partners = Harbour Food Bank, North Pantry, City Kitchen
| stewards = Ana, Ben
| status = active
| started = 2025-03-01
| term_end = 2026-03-01
| beat = fortnightly
| forum_category = food-data
}}
== History ==
Some text.
"""


def with_field(field: str, value: str | None, text: str = VALID) -> str:
    """``text`` with one field replaced (or removed when value is None)."""
    lines = []
    for line in text.splitlines():
        if line.startswith(f"| {field} ="):
            if value is None:
                continue
            line = f"| {field} = {value}"
        lines.append(line)
    return "\n".join(lines)


def test_valid_page() -> None:
    charter = parse_charter("Food data", VALID)
    assert charter == Charter(
        title="Food data",
        goal="Share one open data standard for food banks",
        lead_partner="Harbour Food Bank",
        partners=("Harbour Food Bank", "North Pantry", "City Kitchen"),
        stewards=("Ana", "Ben"),
        status="active",
        started=date(2025, 3, 1),
        term_end=date(2026, 3, 1),
        beat="fortnightly",
        forum_category="food-data",
    )


def test_example_partnership_pages_parse() -> None:
    for constellation in EXAMPLE.constellations:
        fields = constellation.template_fields(datetime(2030, 6, 1, tzinfo=UTC))
        body = "".join(f"| {name} = {value}\n" for name, value in fields.items())
        charter = parse_charter(constellation.name, "{{Constellation\n" + body + "}}")
        assert charter is not None
        assert charter.lead_partner in charter.partners
        assert charter.forum_category == fields["forum_category"]


def test_page_without_template_is_none() -> None:
    assert parse_charter("Plain", "Just text with {{Practice|summary=x}}.") is None
    assert parse_charter("Empty", "") is None


def test_template_name_variants() -> None:
    for name in ("constellation", "Template:Constellation", " Constellation "):
        assert parse_charter("X", VALID.replace("{{Constellation", "{{" + name)) is not None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (with_field("goal", None), "goal"),
        (with_field("goal", ""), "goal"),
        (with_field("lead_partner", None), "lead_partner"),
        (with_field("partners", " , "), "partners"),
        (with_field("status", "paused"), "status"),
        (with_field("beat", "daily"), "beat"),
        (with_field("started", "March 2025"), "started"),
        (with_field("term_end", "2026-13-01"), "term_end"),
        (with_field("term_end", "2024-01-01"), "term_end"),
        (VALID + "\n" + VALID, "template"),
    ],
)
def test_malformed_names_the_field(text: str, field: str) -> None:
    with pytest.raises(CharterError) as caught:
        parse_charter("Broken page", text)
    error = caught.value
    assert error.title == "Broken page"
    assert error.field == field
    assert error.problem
    assert str(error) == f"Broken page: {field}: {error.problem}"
    assert "\n" not in str(error)


def test_whitespace_links_and_comments_are_plain_text() -> None:
    text = with_field("goal", "  Share [[Open data|open data]]   <!-- draft --> standards  ")
    text = text.replace(
        "| lead_partner = Harbour Food Bank", "| lead_partner = [[Harbour Food Bank]]"
    )
    charter = parse_charter("X", text)
    assert charter is not None
    assert charter.goal == "Share open data standards"
    assert charter.lead_partner == "Harbour Food Bank"


def test_comma_lists_are_trimmed_and_deduplicated() -> None:
    text = with_field("partners", " [[North Pantry]] ,City Kitchen,, North Pantry, ")
    text = with_field("stewards", "Ana ,  Ben,", text)
    charter = parse_charter("X", text)
    assert charter is not None
    assert charter.partners == ("North Pantry", "City Kitchen")
    assert charter.stewards == ("Ana", "Ben")


def test_defaults_and_optional_fields() -> None:
    text = VALID
    optional = ("stewards", "status", "started", "term_end", "beat", "forum_category")
    for field in optional:
        text = with_field(field, None, text)
    charter = parse_charter("X", text)
    assert charter is not None
    assert (charter.status, charter.beat) == ("forming", "monthly")
    assert charter.stewards == ()
    assert charter.started is None and charter.term_end is None
    assert charter.forum_category == ""


def test_status_and_beat_are_case_insensitive() -> None:
    charter = parse_charter("X", with_field("status", "Dormant").replace("fortnightly", "Weekly"))
    assert charter is not None
    assert (charter.status, charter.beat) == ("dormant", "weekly")


def test_page_url() -> None:
    settings = {"wiki": {"url": "http://wiki.example/", "script_path": "/w/"}}
    assert (
        page_url(settings, "Food data & co")
        == "http://wiki.example/w/index.php?title=Food_data_%26_co"
    )
