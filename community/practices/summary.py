"""What a practices sync did, counted for the command's report."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PracticeSyncSummary:
    outcomes: dict[str, int] = field(default_factory=dict)
    topics_tagged: int = 0
    stubs_suggested: int = 0
    errors: int = 0
    lines: list[str] = field(default_factory=list)

    def count(self, outcome: str, title: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if outcome not in ("unchanged", "not a practice"):
            self.lines.append(f"{outcome}: {title}")

    def headline(self) -> str:
        shown = [f"{n} {name}" for name, n in self.outcomes.items() if n]
        for name in ("topics_tagged", "stubs_suggested", "errors"):
            if getattr(self, name):
                shown.append(f"{getattr(self, name)} {name.replace('_', ' ')}")
        return "practices: " + (", ".join(shown) if shown else "nothing to do")
