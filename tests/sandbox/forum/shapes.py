"""Comparing the *shape* of two JSON documents: which keys, which JSON types, recursively.

A shape is learnt from one or more recorded documents (lists merge their items, so a key
found in only some items of a recorded list is optional there). The sandbox's document is
then checked against it. Three kinds of difference are reported, each with its path
(``topic_list.topics[].posters[].extras``):

* ``missing`` – a key every recorded sample has and the sandbox lacks;
* ``extra``   – a key no recorded sample has;
* ``type``    – both sides have a value but of a different JSON type. ``int`` and ``float``
  are different types (Discourse's ``score`` is ``0`` before its score job runs and a
  float after it). ``null`` stands for an absent value and matches any type, on either side.

Allowances (see ``fidelity_allowances``) are ``fnmatch`` patterns over these paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

Json = Any


def json_type(value: Json) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


@dataclass
class Shape:
    """What the recorded values at one path looked like."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    # Keys found in every recorded object at this path.
    required: set[str] | None = None
    items: Shape | None = None

    def learn(self, value: Json) -> Shape:
        self.types.add(json_type(value))
        if isinstance(value, dict):
            present = set(value)
            self.required = present if self.required is None else self.required & present
            for key, child in value.items():
                self.keys.setdefault(key, Shape()).learn(child)
        elif isinstance(value, list):
            for item in value:
                if self.items is None:
                    self.items = Shape()
                self.items.learn(item)
        return self


def learn(*samples: Json) -> Shape:
    shape = Shape()
    for sample in samples:
        shape.learn(sample)
    return shape


@dataclass(frozen=True)
class Difference:
    kind: str  # missing | extra | type
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind:7} {self.path}" + (f"  ({self.detail})" if self.detail else "")


def differences(shape: Shape, value: Json) -> list[Difference]:
    """Every way ``value`` departs from ``shape``, each reported once."""
    return list(dict.fromkeys(_differences(shape, value, "")))


def _differences(shape: Shape, value: Json, path: str) -> list[Difference]:
    found: list[Difference] = []
    kind = json_type(value)
    seen = shape.types - {"null"}
    if kind == "null" or not seen:
        return found
    if kind not in seen:
        return [Difference("type", path or "<root>", f"{kind}, recorded {'/'.join(sorted(seen))}")]
    if kind == "dict":
        for key in sorted((shape.required or set()) - set(value)):
            found.append(Difference("missing", _join(path, key)))
        for key, child in value.items():
            if key not in shape.keys:
                found.append(Difference("extra", _join(path, key)))
            else:
                found += _differences(shape.keys[key], child, _join(path, key))
    elif kind == "list" and shape.items is not None:
        for item in value:
            found += _differences(shape.items, item, f"{path}[]")
    return found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def unexplained(found: list[Difference], allowed: dict[str, dict[str, str]]) -> list[Difference]:
    """The differences no allowance covers; ``allowed`` maps kind -> {path pattern: reason}."""
    return [
        d
        for d in found
        if not any(fnmatchcase(d.path, pattern) for pattern in allowed.get(d.kind, {}))
    ]
