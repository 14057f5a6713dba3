"""The backfill of the demo's example history (issue 22's goal: under a minute, with the
forum at Discourse's 60 admin requests a minute and Constellate's budget of 30 of them).

A fresh sandbox MediaWiki with the example's eighteen months of pages and a forum
sandbox at the real limit with the example's three months written into its state (345
posts, 93 likes, 15 solutions); the backfill runs into a fresh store through the
deployment's forum budget. Reference, in the same run and on the same forum:
``record_history``, what the demo's first sync read before (the posts only, into activity
rows, without credit). Prints both times, their ratio, the forum requests and the goal;
exits 1 when the goal is missed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from community.activity import record_history
from community.backfill.run import BackfillReport, run_backfill
from connectors.discourse import ForumClient
from core import clock, forum_budget
from core.config import Settings, load_config
from core.forum_budget import Budget, MemoryLedger, limits_of
from core.migrate import upgrade
from core.store import Store
from sandbox.example import EXAMPLE, write_credit_rules
from sandbox.example_state import seed_forum_state
from sandbox.forum.server import ForumServer
from sandbox.wiki import WikiServer, ensure_packages, install
from sandbox.wiki_seed import seed_wiki

GOAL_SECONDS = 60.0


@dataclass
class ExampleHistory:
    """The example's history on a wiki and a forum of their own, and the settings of a
    service pointed at them (its store is chosen per run)."""

    wiki_config: dict[str, Any]
    human_config: dict[str, Any]  # a wiki account a test can edit as (a person, not the bot)
    forum_config: dict[str, Any]
    server: ForumServer
    directory: Path

    def settings(self, store_url: str) -> Settings:
        rules = write_credit_rules(self.directory / "credit_rules.json")
        return load_config(
            environ={},
            overrides={
                "service": {"secret_key": "s" * 40},
                "store": {"url": store_url},
                "wiki": self.wiki_config,
                "forum": self.forum_config,
                "worker": {"embedded": False},
                "constellations": {"parent_category": EXAMPLE.parent_category},
                "credits": {"rules_file": str(rules)},
            },
        )

    def fresh_store(self, name: str) -> tuple[Settings, Store]:
        url = f"sqlite:///{self.directory / name}.db"
        upgrade(url)
        return self.settings(url), Store(url)


@contextmanager
def example_history(
    directory: Path, *, prepare: Callable[[ForumServer], object] | None = None
) -> Iterator[ExampleHistory]:
    """The wiki and the forum (at Discourse's 60 a minute) with the example written;
    ``prepare`` runs on the forum before the example is (a test's web hook)."""
    ensure_packages()
    sandbox = install(directory / "wiki")
    with (
        WikiServer(sandbox) as wiki,
        ForumServer() as server,
    ):
        assert server.forum is not None
        if prepare is not None:
            prepare(server)
        now = clock.now()
        seed_forum_state(server.forum, now=now)
        seed_wiki(sandbox, now)
        wiki_config = sandbox.wiki_config(wiki.url)
        forum_config = {
            "url": server.url,
            "api_key": server.api_key,
            "api_username": server.api_username,
        }
        human = {
            **wiki_config,
            "username": sandbox.human_username,
            "password": sandbox.human_password,
        }
        yield ExampleHistory(wiki_config, human, forum_config, server, directory)


def timed_backfill(history: ExampleHistory, name: str) -> tuple[float, int, BackfillReport]:
    """A backfill into a fresh store at the deployment's budget: seconds, forum requests."""
    settings, store = history.fresh_store(name)
    forum = ForumClient(settings["forum"])
    try:
        started = time.perf_counter()
        with forum_budget.using(Budget(MemoryLedger(), limits_of(settings))):
            report = run_backfill(store.session, settings, forum=forum)
        return time.perf_counter() - started, forum.request_counts.total(), report
    finally:
        store.dispose()


def timed_history(history: ExampleHistory, name: str) -> tuple[float, int]:
    settings, store = history.fresh_store(name)
    forum = ForumClient(settings["forum"])
    try:
        started = time.perf_counter()
        with (
            forum_budget.using(Budget(MemoryLedger(), limits_of(settings))),
            store.session() as session,
        ):
            record_history(session, forum)
        return time.perf_counter() - started, forum.request_counts.total()
    finally:
        store.dispose()


def main(args: list[str]) -> None:
    if args:
        sys.exit(f"unexpected argument(s): {' '.join(args)}")
    with (
        tempfile.TemporaryDirectory(prefix="constellate-bench-") as folder,
        example_history(Path(folder)) as history,
    ):
        seconds, requests, report = timed_backfill(history, "backfill")
        # After the backfill's requests: well inside the forum's 60 of the same minute.
        reference, reference_requests = timed_history(history, "reference")
    met = seconds < GOAL_SECONDS and report.complete
    print(
        f"backfill: the demo's example history, forum at 60 requests a minute (budget 30): "
        f"{seconds:.1f} s, {requests} forum requests; {report.headline()}; "
        f"reference (record_history, posts only) {reference:.1f} s in {reference_requests} "
        f"requests; ratio backfill/reference = {seconds / reference:.2f}; "
        f"goal < {GOAL_SECONDS:.0f} s: {'met' if met else 'MISSED'}"
    )
    if not met:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
