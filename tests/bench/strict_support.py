"""The check both self-judging benches share: ``--strict`` exits 1 exactly when a goal is
missed, and ``--small`` runs the bench's small options."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest


def exit_code_of(
    monkeypatch: pytest.MonkeyPatch, bench: ModuleType, report: Any, *, strict: bool
) -> int | None:
    """``bench.main(["--small", maybe "--strict"])`` with its run answering ``report``:
    the exit code (None when it returned), after checking it ran the small options."""
    seen: list[Any] = []

    def run(options: Any) -> Any:
        seen.append(options)
        return report

    monkeypatch.setattr(bench, "run", run)
    code: int | None = None
    try:
        bench.main(["--small", *(["--strict"] if strict else [])])
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    assert seen == [bench.SMALL]
    return code
