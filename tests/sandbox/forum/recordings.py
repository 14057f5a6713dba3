"""The recordings of real Discourse sites in ``tests/fixtures/discourse/real`` (see SOURCES.md).

Webhook files are ``<type>__<event>__<site>.json`` holding ``{"headers", "body"}``, some
with the delivered bytes beside them in ``.body``; API answers are
``<METHOD>_<path>__<source>.json`` holding the answer's JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "discourse" / "real"


@dataclass(frozen=True)
class Delivery:
    name: str
    event_type: str
    event: str
    site: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw_body: bytes | None

    @property
    def payload(self) -> Any:
        return self.body[self.event_type]

    def header_names(self) -> set[str]:
        return {name.lower() for name in self.headers}

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def delivery(name: str) -> Delivery:
    data = json.loads((REAL / f"{name}.json").read_text(encoding="utf-8"))
    event_type, event, site = name.split("__", 2)
    raw = REAL / f"{name}.body"
    return Delivery(
        name,
        event_type,
        event,
        site,
        data["headers"],
        data["body"],
        raw.read_bytes() if raw.exists() else None,
    )


def delivery_names() -> list[str]:
    return sorted(
        p.stem for p in REAL.glob("*.json") if not p.name.startswith(("GET_", "POST_", "PUT_"))
    )


def answer(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


def answer_names() -> list[str]:
    return sorted(
        p.name for p in REAL.glob("*.json") if p.name.startswith(("GET_", "POST_", "PUT_"))
    )
