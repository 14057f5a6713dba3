"""The SVG charts, read back as XML: what they draw, what they say in words, and that
labels holding markup stay text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from markupsafe import Markup

from dashboards.charts import adoption_grid, bar_chart, line_chart, sparkline, timeline

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script>"


def parse(chart: Markup) -> ET.Element:
    root = ET.fromstring(str(chart))  # noqa: S314 (our own output, no entities)
    assert root.tag == f"{SVG}svg"
    return root


def text_alternative(root: ET.Element) -> tuple[str, str]:
    """The title and description the svg is labelled by (checked to be the ones named)."""
    assert root.get("role") == "img"
    title_id, desc_id = (root.get("aria-labelledby") or "").split()
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title is not None and desc is not None
    assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
    return title.text or "", desc.text or ""


def assert_csp_clean(root: ET.Element) -> None:
    """Nothing the dashboard's CSP forbids: no style attributes, handlers or scripts."""
    for node in root.iter():
        assert node.tag not in (f"{SVG}script", f"{SVG}style", "script", "style")
        assert "style" not in node.attrib
        assert not [name for name in node.attrib if name.lower().startswith("on")]


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    pairs = (pair.split(",") for pair in (polyline.get("points") or "").split())
    return [(float(x), float(y)) for x, y in pairs]


def day(n: int) -> datetime:
    return datetime(2025, 3, n, tzinfo=UTC)


def test_a_sparkline_breaks_at_a_gap_and_says_its_figures() -> None:
    root = parse(sparkline([3, 5, None, 0, 2], "Pulse: posts per week, last 5 weeks"))
    title, desc = text_alternative(root)
    assert title == "Pulse: posts per week, last 5 weeks"
    assert desc == "Pulse: posts per week, last 5 weeks: 3, 5, no data, 0, 2"
    lines = root.findall("svg:polyline", NS)
    assert [len(points(line)) for line in lines] == [2, 2]  # 3, 5 | 0, 2
    (x3, y3), (x5, y5) = points(lines[0])
    (x0, y0), (x2, y2) = points(lines[1])
    assert x3 < x5 < x0 < x2  # in order, oldest first
    assert y5 < y3 < y2 < y0  # larger values higher up (smaller y)
    dot = root.find("svg:circle", NS)
    assert dot is not None and (float(dot.get("cx", 0)), float(dot.get("cy", 0))) == (x2, y2)
    assert_csp_clean(root)


def test_an_empty_sparkline_says_so() -> None:
    root = parse(sparkline([], "Pulse"))
    assert text_alternative(root)[1] == "Pulse: no data yet"
    assert root.findall("svg:polyline", NS) == []


def test_a_line_chart_orders_by_time_leaves_gaps_and_labels_its_axes() -> None:
    median = [(day(3), 4.0), (day(1), 2.0), (day(2), None), (day(4), 6.0)]  # unsorted
    p90 = [(day(1), 10.0), (day(4), 12.5)]
    root = parse(line_chart([("median", median), ("90th percentile", p90)], "Waits", "hours"))
    title, desc = text_alternative(root)
    assert title == "Waits"
    assert desc == (
        "Waits (hours). median: 2025-03-01 2, 2025-03-02 no data, 2025-03-03 4, "
        "2025-03-04 6; 90th percentile: 2025-03-01 10, 2025-03-04 12.5."
    )
    median_lines, p90_lines = (
        [line for line in root.findall("svg:polyline", NS) if line.get("stroke") == stroke]
        for stroke in ("#0072b2", "#d55e00")
    )
    # The gap on 2 March splits the median into the lone point of day 1 and days 3-4.
    assert [len(points(line)) for line in median_lines] == [1, 2]
    (x1, y1), ((x3, y3), (x4, y4)) = points(median_lines[0])[0], points(median_lines[1])
    assert x1 < x3 < x4 and y1 > y3 > y4
    (px1, py1), (px4, py4) = points(p90_lines[0])
    assert (px1, px4) == (x1, x4)  # one time axis for both series
    assert py4 < py1 < y4  # 12.5 above 10 above 6
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert "hours" in texts
    assert {"2025-03-01", "2025-03-04"} <= set(texts)  # the axis runs from first to last day
    assert {"0", "15"} <= set(texts)  # the value axis starts at 0 and ends on a round top
    legend = [node.text for node in root.findall("svg:g/svg:text", NS)]
    assert legend == ["median", "90th percentile"]
    assert_csp_clean(root)


def test_a_line_chart_without_points_says_so() -> None:
    root = parse(line_chart([("median", [])], "Waits", "hours"))
    assert text_alternative(root)[1] == "Waits: no data yet."
    assert root.findall("svg:polyline", NS) == []


def test_bars_are_as_long_as_their_values() -> None:
    root = parse(bar_chart([("Riverlands Water Trust", 10), ("Small Org", 5)], "Participants"))
    title, desc = text_alternative(root)
    assert (title, desc) == (
        "Participants",
        "Participants: Riverlands Water Trust 10, Small Org 5.",
    )
    widths = [float(rect.get("width", 0)) for rect in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.2)
    labels = [node.text for node in root.iter(f"{SVG}text")]
    assert labels == ["Riverlands Water Trust", "10", "Small Org", "5"]
    assert_csp_clean(root)


def test_the_adoption_grid_fills_exactly_the_adopted_cells() -> None:
    rows = ["Rain gardens", "Shade audits"]
    columns = ["Water Trust", "City Lab", "Tree Guild"]
    cells = {
        ("Rain gardens", "City Lab"),
        ("Shade audits", "Water Trust"),
        ("Shade audits", "Tree Guild"),
    }
    root = parse(adoption_grid(rows, columns, cells, "Adoption"))
    _, desc = text_alternative(root)
    assert desc == (
        "Adoption. Rain gardens: adopted by City Lab; "
        "Shade audits: adopted by Water Trust, Tree Guild."
    )
    squares = root.findall("svg:rect", NS)
    assert len(squares) == 6
    filled = {
        square.findtext("svg:title", namespaces=NS)
        for square in squares
        if square.get("class") == "adopted"
    }
    assert filled == {
        "Rain gardens: adopted by City Lab",
        "Shade audits: adopted by Water Trust",
        "Shade audits: adopted by Tree Guild",
    }
    # Rows go down, columns go right.
    first, second = squares[0], squares[3]
    assert float(first.get("y", 0)) < float(second.get("y", 0))
    assert (
        float(squares[0].get("x", 0))
        < float(squares[1].get("x", 0))
        < float(squares[2].get("x", 0))
    )
    assert_csp_clean(root)


def test_a_timeline_draws_a_bar_per_span_and_runs_an_open_span_to_the_end() -> None:
    spans = [
        ("Water Trust", date(2024, 1, 1), date(2024, 7, 1)),
        ("City Lab", date(2024, 7, 1), None),
    ]
    root = parse(timeline(spans, "Lead partners", until=date(2025, 1, 1)))
    _, desc = text_alternative(root)
    assert (
        desc == "Lead partners. Water Trust: 2024-01-01 to 2024-07-01; City Lab: 2024-07-01 to now."
    )
    first, second = root.findall("svg:rect", NS)
    assert float(first.get("x", 0)) + float(first.get("width", 0)) == pytest.approx(
        float(second.get("x", 0)), abs=0.2
    )
    assert float(first.get("y", 0)) < float(second.get("y", 0))  # one row per partner
    # 1 Jan to 1 Jul 2024 is 182 days, 1 Jul 2024 to 1 Jan 2025 is 184.
    ratio = float(second.get("width", 0)) / float(first.get("width", 0))
    assert ratio == pytest.approx(184 / 182, abs=0.01)
    assert_csp_clean(root)


def test_a_partner_who_leads_twice_keeps_one_row() -> None:
    spans = [
        ("Water Trust", date(2024, 1, 1), date(2024, 3, 1)),
        ("City Lab", date(2024, 3, 1), date(2024, 6, 1)),
        ("Water Trust", date(2024, 6, 1), None),
    ]
    root = parse(timeline(spans, "Lead partners", until=date(2024, 9, 1)))
    bars = root.findall("svg:rect", NS)
    assert [bar.get("y") for bar in bars] == [bars[0].get("y"), bars[1].get("y"), bars[0].get("y")]


@pytest.mark.parametrize(
    "chart",
    [
        lambda: sparkline([1, 2], HOSTILE),
        lambda: line_chart([(HOSTILE, [(day(1), 1.0)])], HOSTILE, HOSTILE),
        lambda: bar_chart([(HOSTILE, 1)], HOSTILE),
        lambda: adoption_grid([HOSTILE], [HOSTILE], {(HOSTILE, HOSTILE)}, HOSTILE),
        lambda: timeline([(HOSTILE, date(2024, 1, 1), None)], HOSTILE, until=date(2024, 2, 1)),
    ],
    ids=["sparkline", "line", "bar", "grid", "timeline"],
)
def test_labels_with_markup_stay_text(chart: object) -> None:
    assert callable(chart)
    rendered = chart()
    assert "<script>" not in str(rendered)
    root = parse(rendered)
    title, desc = text_alternative(root)
    assert title == HOSTILE
    assert HOSTILE in desc
    assert_csp_clean(root)
