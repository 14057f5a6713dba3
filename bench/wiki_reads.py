"""Batched page reads against a real sandbox MediaWiki, versus one request per title.

The reference is what a naive bot does (read each page on its own); the ratio of
the batched time to it is what the batching buys. Both run in the same process
against the same wiki, best of several rounds, so machine noise mostly cancels.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from connectors.mediawiki import WikiClient
from sandbox.wiki import WikiServer, ensure_packages, install

PAGES = 200
ROUNDS = 3


def best_of(rounds: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ensure_packages()
    with tempfile.TemporaryDirectory(prefix="constellate-bench-") as folder:
        sandbox = install(Path(folder) / "wiki")
        with WikiServer(sandbox) as server:
            client = WikiClient(sandbox.wiki_config(server.url))
            prefix = f"Bench {uuid.uuid4().hex[:8]}"
            titles = [f"{prefix} {n}" for n in range(PAGES)]
            for title in titles:
                client.edit(title, f"Page {title}.", summary="benchmark page", mode="create")

            before = client.request_counts.total()
            batched = best_of(ROUNDS, lambda: client.read_pages(titles))
            batched_requests = (client.request_counts.total() - before) // ROUNDS

            before = client.request_counts.total()
            one_by_one = best_of(ROUNDS, lambda: [client.read_pages([t]) for t in titles])
            reference_requests = (client.request_counts.total() - before) // ROUNDS

    print(
        f"wiki_reads: {PAGES} pages; batched {batched:.3f} s in {batched_requests} request(s); "
        f"reference (one request per title) {one_by_one:.3f} s in {reference_requests} requests; "
        f"ratio batched/reference = {batched / one_by_one:.3f}"
    )


if __name__ == "__main__":
    main()
