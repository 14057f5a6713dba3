"""Reading a dashboard page in tests: table rows by table class (cell text without the
charts' text), links, forms and the inline SVG charts; and checking JSON against the
OpenAPI description."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from dashboards.openapi import response_schema

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class Page(HTMLParser):
    """The parts of a page the tests read: table rows by table class (cell text without
    the charts' text), terms and definitions of description lists, links, forms, and the
    inline charts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[tuple[str, str]] = []
        self.forms: list[Form] = []
        self.terms: list[str] = []
        self.definitions: list[str] = []
        self._table: list[str] = []
        self._cell: list[str] | None = None
        self._link: list[str] | None = None
        self._href = ""
        self._svg = 0
        self.feed(html)
        self.charts = [
            ET.fromstring(svg)  # noqa: S314 (the page under test, no entities)
            for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
        ]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "svg":
            self._svg += 1
        elif tag == "table":
            self._table.append(values.get("class", "").replace("data", "").strip())
            self.tables.setdefault(self._table[-1], [])
        elif tag == "tr" and self._table:
            self.tables[self._table[-1]].append([])
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []
        elif tag == "a":
            self._link, self._href = [], values.get("href", "")
        elif tag == "form":
            self.forms.append(Form(values.get("action", "")))
        elif tag == "input" and self.forms:
            self.forms[-1].fields[values.get("name", "")] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg -= 1
        elif tag == "table":
            self._table.pop()
        elif tag in ("td", "th", "dt", "dd") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if tag == "dt":
                self.terms.append(text)
            elif tag == "dd":
                self.definitions.append(text)
            else:
                self.tables[self._table[-1]][-1].append(text)
            self._cell = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._href, " ".join("".join(self._link).split())))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._svg:
            return
        if self._cell is not None:
            self._cell.append(data)
        if self._link is not None:
            self._link.append(data)

    def body(self, name: str) -> list[list[str]]:
        """A table's rows without its heading row."""
        return self.tables[name][1:]

    def descriptions(self) -> list[str]:
        """Each chart's text alternative, in page order."""
        return [chart.findtext(f"{SVG}desc") or "" for chart in self.charts]

    def titles(self) -> list[str]:
        return [chart.findtext(f"{SVG}title") or "" for chart in self.charts]


def validate(data: Any, path: str, status: int = 200) -> None:
    Draft202012Validator(response_schema(path, status)).validate(data)


def get_page(client: FlaskClient, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return Page(response.get_data(as_text=True))
