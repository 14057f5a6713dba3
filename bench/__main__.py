"""Run benchmarks: python -m bench [name [options] ...] (all of them when none is named)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import (
    backfill,
    constellation_sync,
    dashboard,
    forum_budget,
    health,
    ingest,
    wiki_push,
    wiki_reads,
)


def _no_options(run: Callable[[], None]) -> Callable[[list[str]], None]:
    def call(args: list[str]) -> None:
        if args:
            sys.exit(f"unexpected argument(s): {' '.join(args)}")
        run()

    return call


BENCHMARKS: dict[str, Callable[[list[str]], None]] = {
    "wiki_reads": _no_options(wiki_reads.main),
    "constellation_sync": constellation_sync.main,
    "health": health.main,
    "dashboard": dashboard.main,
    "ingest": ingest.main,
    "forum_budget": forum_budget.main,
    "wiki_push": wiki_push.main,
    "backfill": backfill.main,
}


def main(argv: list[str]) -> None:
    # Each benchmark name takes the arguments that follow it, up to the next name.
    runs: list[tuple[str, list[str]]] = []
    for arg in argv:
        if arg in BENCHMARKS:
            runs.append((arg, []))
        elif runs:
            runs[-1][1].append(arg)
        else:
            sys.exit(f"unknown benchmark: {arg}; known: {', '.join(BENCHMARKS)}")
    for name, args in runs or [(name, []) for name in BENCHMARKS]:
        BENCHMARKS[name](args)


if __name__ == "__main__":
    main(sys.argv[1:])
