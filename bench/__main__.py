"""Run every benchmark: python -m bench [name ...]."""

from __future__ import annotations

import sys

from bench import wiki_reads

BENCHMARKS = {"wiki_reads": wiki_reads.main}


def main(names: list[str]) -> None:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        sys.exit(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}"
        )
    for name in names or list(BENCHMARKS):
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
