"""Partners by any name: what every reader of organisations goes through (health
metrics, practice adoption and reuse credit, the people of a lead partner, the group
alerts and nudges go to). Only registered partners are organisations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.partners.models import Partner


def normalise(name: str) -> str:
    """Names compare without case, "_" counts as a space (as in wiki titles), and runs
    of spaces as one."""
    return " ".join(name.replace("_", " ").split()).casefold()


@dataclass(frozen=True)
class Organisations:
    """The registered partners, by any of their names (normalised) -> (group, name)."""

    names: Mapping[str, tuple[str, str]]

    @classmethod
    def read(cls, session: Session) -> Organisations:
        names: dict[str, tuple[str, str]] = {}
        rows = session.execute(
            select(Partner.group_name, Partner.name, Partner.short_name)
            .where(Partner.retired_at.is_(None))
            .order_by(Partner.name, Partner.group_name)
        )
        for group_name, name, short_name in rows:
            for alias in (group_name, name, short_name):
                if alias:
                    names.setdefault(normalise(alias), (group_name, name))
        return cls(names)

    def known(self, name: str) -> bool:
        return normalise(name) in self.names

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names that are no registered partner's, in the order given."""
        return [name for name in names if not self.known(name)]

    def canonical(self, name: str) -> str:
        """One name per organisation: the partner's name, else the name as given."""
        found = self.names.get(normalise(name))
        return found[1] if found else name.strip()

    def group_of(self, name: str | None) -> str | None:
        """The forum group of a partner named any way; None when none is registered."""
        found = self.names.get(normalise(name)) if name else None
        return found[0] if found else None
