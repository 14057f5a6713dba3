"""The small pieces the charts are drawn with: escaped SVG elements, scales and ticks.

Elements are built as strings with every attribute value and text escaped, so a label
that holds markup stays text. Only presentation attributes are used (our CSP forbids
inline styles).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from markupsafe import Markup, escape

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "system-ui, sans-serif"
TEXT_COLOUR = "#1f2933"
MUTED_COLOUR = "#616e7c"
GRID_COLOUR = "#d9dee3"
# Colour-blind safe (Okabe–Ito), dark enough to read on white.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")

_ids = itertools.count(1)  # ids unique within a process, hence within a page


def element(name: str, attrs: Mapping[str, Any] | None = None, *children: str) -> Markup:
    """``<name attrs>children</name>``; plain-str children are escaped, Markup kept."""
    parts = [name]
    for key, value in (attrs or {}).items():
        if value is None:
            continue
        parts.append(f'{key}="{escape(_attr(value))}"')
    opening = " ".join(parts)
    # Safe: the name and keys are our own; every value and plain-str child is escaped.
    if not children:
        return Markup(f"<{opening}/>")  # noqa: S704
    inner = "".join(str(escape(child)) for child in children)
    return Markup(f"<{opening}>{inner}</{name}>")  # noqa: S704


def _attr(value: Any) -> str:
    if isinstance(value, float):
        return coordinate(value)
    return str(value)


def coordinate(value: float) -> str:
    """A coordinate with one decimal, without a useless ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def number(value: float | None) -> str:
    """A figure as people read it: whole numbers bare, others with two decimals at most."""
    if value is None:
        return "no data"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def figure(kind: str, width: int, height: int, title: str, description: str, *body: str) -> Markup:
    """The outer ``<svg role="img">`` with its title and description (the text
    alternative), labelled by both."""
    ident = f"chart{next(_ids)}"
    attrs = {
        "xmlns": SVG_NS,
        "class": f"chart chart-{kind}",
        "role": "img",
        "width": width,
        "height": height,
        "viewBox": f"0 0 {width} {height}",
        "aria-labelledby": f"{ident}-title {ident}-desc",
        "font-family": FONT,
    }
    return element(
        "svg",
        attrs,
        element("title", {"id": f"{ident}-title"}, title),
        element("desc", {"id": f"{ident}-desc"}, description),
        *body,
    )


def label(x: float, y: float, content: str, *, size: int = 12, **attrs: Any) -> Markup:
    """A text label (``anchor`` sets text-anchor); grey unless ``fill`` is given."""
    anchor = attrs.pop("anchor", "start")
    values = {"x": x, "y": y, "font-size": size, "fill": TEXT_COLOUR, "text-anchor": anchor}
    values.update(attrs)
    return element("text", values, content)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text goes in a
    ``<title>`` next to it)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def moment(value: datetime | date) -> datetime:
    """Dates as midnight UTC, so both can share one time axis."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


@dataclass(frozen=True)
class Scale:
    """A linear map from a domain onto a pixel range (either may run backwards)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return (self.start + self.end) / 2
        share = (value - self.low) / (self.high - self.low)
        return self.start + share * (self.end - self.start)


def nice_ceiling(value: float, ticks: int = 4) -> tuple[float, float]:
    """A round top for a value axis starting at 0, and the step between its ticks."""
    if value <= 0 or math.isnan(value):
        return 1.0, 0.25
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step - 1e-9), step


def value_ticks(top: float, step: float) -> list[float]:
    count = round(top / step)
    return [step * i for i in range(count + 1)]


def time_ticks(start: datetime, end: datetime, count: int = 5) -> list[datetime]:
    """``count`` evenly spaced moments from ``start`` to ``end`` (one when they meet)."""
    if end <= start:
        return [start]
    return [start + (end - start) * i / (count - 1) for i in range(count)]


def day_label(value: datetime) -> str:
    return value.date().isoformat()


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
