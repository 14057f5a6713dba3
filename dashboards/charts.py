"""Server-side SVG charts for the dashboard.

Each chart is an ``<svg role="img">`` labelled by its ``<title>`` and a ``<desc>`` that
carries the figures as text, for people who cannot see the picture. Every label is user
data (organisation names, page titles) and is escaped. No scripts, no ``style``
attributes: the dashboard's CSP allows neither (which is why we do not use pygal).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from markupsafe import Markup

from dashboards.chart_svg import (
    GRID_COLOUR,
    MUTED_COLOUR,
    Scale,
    colour,
    coordinate,
    day_label,
    element,
    figure,
    label,
    moment,
    nice_ceiling,
    number,
    shorten,
    time_ticks,
    value_ticks,
)

Point = tuple[datetime, float | None]
Series = tuple[str, Sequence[Point]]
Span = tuple[str, datetime | date, datetime | date | None]  # (label, start, end or None)

WIDTH = 640
LABEL_CHARS = 28  # longer row labels are cut on the picture (the full text is in <title>)
DOTS_UP_TO = 60  # points per series drawn as dots too; more would only blur the line
LEGEND_CHARS = 40
CHAR_WIDTH = 6.2  # the rough width of a character at font size 11, for laying out legends


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive points that have a value: a None breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _polyline(run: Sequence[tuple[float, float]], stroke: str, width: float) -> Markup:
    points = " ".join(f"{coordinate(x)},{coordinate(y)}" for x, y in run)
    return element(
        "polyline",
        {"points": points, "fill": "none", "stroke": stroke, "stroke-width": width},
    )


def _dot(x: float, y: float, fill: str, radius: float = 2.5) -> Markup:
    return element("circle", {"cx": x, "cy": y, "r": radius, "fill": fill})


# -- sparkline -------------------------------------------------------------------------------


def sparkline(values: Sequence[float | None], label_text: str) -> Markup:
    """A word-sized line of ``values`` (oldest first); None leaves a gap."""
    width, height, pad = 120, 28, 3
    known = [v for v in values if v is not None]
    top = max(known, default=0) or 1
    x = Scale(0, max(len(values) - 1, 1), pad, width - pad)
    y = Scale(0, top, height - pad, pad)
    body: list[str] = [
        _polyline(run, colour(0), 1.5)
        for run in _segments([(x(i), None if v is None else y(v)) for i, v in enumerate(values)])
    ]
    last = next(((i, v) for i, v in reversed(list(enumerate(values))) if v is not None), None)
    if last is not None:
        body.append(_dot(x(last[0]), y(last[1]), colour(0), 2))
    shown = ", ".join(number(v) for v in values) if values else "no data yet"
    return figure("sparkline", width, height, label_text, f"{label_text}: {shown}", *body)


# -- line chart ------------------------------------------------------------------------------


def line_chart(series: Sequence[Series], title: str, y_label: str) -> Markup:
    """Series over time on one value axis from 0; a None point is a gap in its line."""
    left, right, bottom = 60, 16, 34
    legend = _legend([name for name, _ in series], left, WIDTH - right) if len(series) > 1 else []
    legend_rows = len({y for _, y, _ in legend})
    top = 14 + 20 * legend_rows
    height = 240 + 20 * legend_rows
    times = [moment(t) for _, points in series for t, _ in points]
    values = [v for _, points in series for _, v in points if v is not None]
    ceiling, step = nice_ceiling(max(values, default=0))
    start, end = (min(times), max(times)) if times else (None, None)
    body: list[str] = []
    y = Scale(0, ceiling, height - bottom, top)
    for tick in value_ticks(ceiling, step):
        body.append(_gridline(left, WIDTH - right, y(tick)))
        body.append(label(left - 6, y(tick) + 4, number(tick), size=11, anchor="end"))
    middle = (top + height - bottom) / 2
    body.append(
        label(
            14,
            middle,
            y_label,
            size=12,
            anchor="middle",
            transform=f"rotate(-90 14 {coordinate(middle)})",
        )
    )
    if start is None or end is None:
        body.append(label(WIDTH / 2, middle, "No data yet", size=13, anchor="middle"))
        return figure("line", WIDTH, height, title, f"{title}: no data yet.", *body)
    x = Scale(start.timestamp(), end.timestamp(), left + 8, WIDTH - right - 8)
    body.extend(_time_axis(x, start, end, height - bottom + 18))
    described = []
    for index, (name, points) in enumerate(series):
        ordered = sorted(((moment(t), v) for t, v in points), key=lambda p: p[0])
        placed = [(x(t.timestamp()), None if v is None else y(v)) for t, v in ordered]
        for run in _segments(placed):
            body.append(_polyline(run, colour(index), 2))
            if len(run) == 1 or len(ordered) <= DOTS_UP_TO:
                body.extend(_dot(px, py, colour(index)) for px, py in run)
        shown = ", ".join(f"{day_label(t)} {number(v)}" for t, v in ordered) or "no data"
        described.append(f"{name}: {shown}")
        if legend:
            lx, ly, name_shown = legend[index]
            body.append(_legend_item(lx, ly, name_shown, name, colour(index)))
    description = f"{title} ({y_label}). " + "; ".join(described) + "."
    return figure("line", WIDTH, height, title, description, *body)


def _gridline(x1: float, x2: float, y: float) -> Markup:
    return element("line", {"x1": x1, "x2": x2, "y1": y, "y2": y, "stroke": GRID_COLOUR})


def _time_axis(x: Scale, start: datetime, end: datetime, y: float) -> list[Markup]:
    """Date labels under a time axis; the outer ones lean inwards so none is cut off."""
    ticks = time_ticks(start, end, 5 if end > start else 1)
    labels = []
    for index, when in enumerate(ticks):
        anchor = "middle"
        if len(ticks) > 1 and index in (0, len(ticks) - 1):
            anchor = "start" if index == 0 else "end"
        labels.append(
            label(x(when.timestamp()), y, day_label(when), size=11, anchor=anchor,
                  fill=MUTED_COLOUR)
        )  # fmt: skip
    return labels


def _legend(names: Sequence[str], left: float, right: float) -> list[tuple[float, float, str]]:
    """Where each series' legend entry goes (x, baseline y, text shown): left to right,
    on as many rows as the names need."""
    placed = []
    x, y = left, 14.0
    for name in names:
        shown = shorten(name, LEGEND_CHARS)
        width = 14 + CHAR_WIDTH * len(shown) + 16
        if x > left and x + width > right:
            x, y = left, y + 20
        placed.append((x, y, shown))
        x += width
    return placed


def _legend_item(x: float, y: float, shown: str, name: str, fill: str) -> Markup:
    return element(
        "g",
        {"class": "legend"},
        element("rect", {"x": x, "y": y - 9, "width": 10, "height": 10, "fill": fill}),
        label(x + 14, y, shown, size=11),
        element("title", {}, name),
    )


# -- bar chart -------------------------------------------------------------------------------


def bar_chart(pairs: Sequence[tuple[str, float]], title: str) -> Markup:
    """Horizontal bars, one per (label, value ≥ 0), in the order given."""
    row, left, right, top = 24, 210, 56, 8
    height = top * 2 + row * max(len(pairs), 1)
    if not pairs:
        body = [label(WIDTH / 2, height / 2 + 4, "No data yet", size=13, anchor="middle")]
        return figure("bar", WIDTH, height, title, f"{title}: no data yet.", *body)
    ceiling = max((value for _, value in pairs), default=0) or 1
    x = Scale(0, ceiling, left, WIDTH - right)
    body = []
    for index, (name, value) in enumerate(pairs):
        y = top + row * index
        end = x(max(value, 0))
        body.append(
            element(
                "g",
                {"class": "bar"},
                element("title", {}, f"{name}: {number(value)}"),
                label(left - 8, y + 16, shorten(name, LABEL_CHARS), anchor="end"),
                element(
                    "rect",
                    {
                        "x": left,
                        "y": y + 4,
                        "width": max(end - left, 1),
                        "height": row - 8,
                        "fill": colour(0),
                    },
                ),
                label(end + 6, y + 16, number(value), size=11),
            )
        )
    description = f"{title}: " + ", ".join(f"{name} {number(v)}" for name, v in pairs) + "."
    return figure("bar", WIDTH, height, title, description, *body)


# -- adoption grid ---------------------------------------------------------------------------


def adoption_grid(
    rows: Sequence[str], columns: Sequence[str], cells: Collection[tuple[str, str]], title: str
) -> Markup:
    """A matrix of ``rows`` (practices) × ``columns`` (organisations): a filled square
    where (row, column) is in ``cells``, an empty one elsewhere."""
    size, gap, left, top = 18, 4, 220, 130
    pitch = size + gap
    width = max(WIDTH, left + pitch * len(columns) + 40)
    height = top + pitch * max(len(rows), 1) + 8
    adopted = set(cells)
    body: list[str] = []
    for c, column in enumerate(columns):
        cx = left + pitch * c + size / 2
        body.append(
            element(
                "g",
                {"class": "column"},
                element("title", {}, column),
                label(
                    cx,
                    top - 8,
                    shorten(column, 24),
                    size=11,
                    transform=f"rotate(-45 {coordinate(cx)} {top - 8})",
                ),
            )
        )
    described = []
    for r, row in enumerate(rows):
        y = top + pitch * r
        body.append(
            element(
                "g",
                {"class": "row"},
                element("title", {}, row),
                label(left - 8, y + size - 4, shorten(row, LABEL_CHARS), anchor="end"),
            )
        )
        for c, column in enumerate(columns):
            taken = (row, column) in adopted
            body.append(
                element(
                    "rect",
                    {
                        "class": "adopted" if taken else "not-adopted",
                        "x": left + pitch * c,
                        "y": y,
                        "width": size,
                        "height": size,
                        "rx": 3,
                        "fill": colour(2) if taken else "#ffffff",
                        "stroke": colour(2) if taken else GRID_COLOUR,
                    },
                    element(
                        "title", {}, f"{row}: {'adopted' if taken else 'not adopted'} by {column}"
                    ),
                )
            )
        by = [column for column in columns if (row, column) in adopted]
        described.append(f"{row}: " + (f"adopted by {', '.join(by)}" if by else "not adopted"))
    if not rows:
        body.append(label(left, top + size, "No practices yet", size=13))
    description = f"{title}. " + ("; ".join(described) or "No practices yet") + "."
    return figure("grid", width, height, title, description, *body)


# -- timeline --------------------------------------------------------------------------------


def timeline(spans: Sequence[Span], title: str, *, until: datetime | date | None = None) -> Markup:
    """One row per label, a bar per span; a span without an end runs to ``until`` (or to
    the latest moment shown)."""
    row, left, right, top = 28, 210, 16, 8
    names = list(dict.fromkeys(name for name, _, _ in spans))
    height = top + row * max(len(names), 1) + 30
    body: list[str] = []
    if not spans:
        body = [label(WIDTH / 2, height / 2, "No data yet", size=13, anchor="middle")]
        return figure("timeline", WIDTH, height, title, f"{title}: no data yet.", *body)
    moments = [moment(s) for _, s, _ in spans] + [moment(e) for _, _, e in spans if e]
    if until is not None:
        moments.append(moment(until))
    start, end = min(moments), max(moments)
    x = Scale(start.timestamp(), end.timestamp(), left, WIDTH - right)
    body.extend(_time_axis(x, start, end, top + row * len(names) + 18))
    for index, name in enumerate(names):
        body.append(
            element(
                "g",
                {"class": "row"},
                element("title", {}, name),
                label(left - 8, top + row * index + 18, shorten(name, LABEL_CHARS), anchor="end"),
            )
        )
    described = []
    for name, begin, finish in spans:
        index = names.index(name)
        x1 = x(moment(begin).timestamp())
        x2 = x(moment(finish or until or end).timestamp())
        to = day_label(moment(finish)) if finish else "now"
        text = f"{name}: {day_label(moment(begin))} to {to}"
        body.append(
            element(
                "rect",
                {
                    "class": "span",
                    "x": x1,
                    "y": top + row * index + 5,
                    "width": max(x2 - x1, 3),
                    "height": row - 10,
                    "rx": 3,
                    "fill": colour(index),
                },
                element("title", {}, text),
            )
        )
        described.append(text)
    description = f"{title}. " + "; ".join(described) + "."
    return figure("timeline", WIDTH, height, title, description, *body)
