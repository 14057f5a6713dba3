"""Constellation sync against a fresh sandbox wiki and forum: HTTP requests per page for
an initial full sync and a no-change resync (which must write nothing), and the batched
read phase timed against pywikibot's PreloadingGenerator reading the same pages.

Goal (issue 20): the no-change resync costs at most ceil(pages / limit) + 2 wiki requests
(today the batched read and the category listing; limit is 500 with high limits) and
no forum request. Opening the wiki session (site info, login) is counted apart: a
process pays it once, whatever it syncs.

python -m bench constellation_sync [--pages N] [--strict]   (default 300 pages; --strict:
exit 1 when the goal is missed)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from community.constellations.sync import SyncSummary, sync_constellations
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from connectors.mediawiki.client import TITLES_PER_QUERY, TITLES_PER_QUERY_HIGH
from core.config import Settings, load_config
from core.migrate import upgrade
from core.store import Store
from sandbox.forum.server import ForumServer
from sandbox.wiki import WikiServer, ensure_packages, install

PAGES = 300
READER = Path(__file__).with_name("pywikibot_reads.py")  # run by path: cwd is a temp folder
FORUM_RATE_LIMIT = 1_000_000  # the benchmark measures requests, not Discourse's throttle


# Opening a wiki session (site and account info, login, tokens) reads and writes
# no content, and a process does it once; counted apart, under its own name.
SESSION = "SESSION"
_LOGIN_ACTIONS = {"login", "clientlogin"}
_CONTENT_PARAMS = {"prop", "list", "generator", "titles", "pageids", "revids"}


def _method(request: requests.PreparedRequest) -> str:
    body = request.body if isinstance(request.body, str) else (request.body or b"").decode()
    params = parse_qs(urlsplit(request.url or "").query) | parse_qs(body)
    action = params.get("action", [""])[0]
    if request.method == "POST" and action in _LOGIN_ACTIONS:
        return SESSION
    if request.method == "GET" and action == "query" and not _CONTENT_PARAMS & params.keys():
        return SESSION  # meta only: siteinfo, userinfo, tokens
    return request.method or "GET"


class MethodCounts(Counter[str]):
    """HTTP requests by method, from a ``requests`` response hook."""

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self[_method(response.request)] += 1

    def writes(self) -> int:
        return sum(n for method, n in self.items() if method not in ("GET", SESSION))

    def total(self) -> int:
        return sum(self.values())

    def work(self) -> int:
        """Every request but those opening the session."""
        return self.total() - self[SESSION]


def resync_goal(pages: int, limit: int = TITLES_PER_QUERY_HIGH) -> int:
    """Most wiki requests a no-change resync of ``pages`` may make (the session apart)."""
    return math.ceil(pages / limit) + 2


@dataclass
class Phase:
    name: str
    summary: SyncSummary
    wiki: MethodCounts
    forum: MethodCounts
    seconds: float

    def describe(self, pages: int) -> str:
        return (
            f"  {self.name}: {self.seconds:.2f} s; wiki {self.wiki.work()} requests "
            f"({self.wiki.work() / pages:.2f}/page, {self.wiki.writes()} writes; "
            f"+{self.wiki[SESSION]} opening the session); forum "
            f"{self.forum.total()} requests ({self.forum.total() / pages:.2f}/page, "
            f"{self.forum.writes()} writes); {self.summary.headline()}"
        )


@dataclass
class Result:
    pages: int
    initial: Phase
    resync: Phase
    minimum_reads: int
    read_seconds: float
    read_requests: int
    pywikibot: dict[str, Any]
    resync_goal: int

    @property
    def goal_met(self) -> bool:
        return self.resync.wiki.work() <= self.resync_goal and self.resync.forum.total() == 0


class WritesOnResync(AssertionError):
    """The no-change resync wrote something: a regression the benchmark must not hide."""


def constellation_text(number: int) -> str:
    fields = {
        "goal": f"Benchmark goal number {number}",
        "lead_partner": "Harbour Food Bank",
        "partners": "Harbour Food Bank, North Pantry, City Kitchen",
        "stewards": "Ana, Ben",
        "status": "active",
        "started": "2025-03-01",
        "term_end": "2027-03-01",
        "beat": "fortnightly",
        "forum_category": f"bench-{number}",
    }
    body = "\n".join(f"| {key} = {value}" for key, value in fields.items())
    return "{{Constellation\n" + body + "\n}}\n\nA benchmark constellation.\n"


@dataclass
class World:
    """A fresh sandbox wiki and forum and a migrated store, configured for the service."""

    settings: Settings
    store: Store
    wiki_url: str
    forum: ForumServer
    folder: Path


@contextmanager
def world(
    folder: Path,
    *,
    forum_rate_limit: int = FORUM_RATE_LIMIT,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    wiki_feed: str | None = None,
) -> Iterator[World]:
    """Both sandboxes running, the settings reaching them (each section of ``overrides``
    updates the one it names) and the store migrated, all inside ``folder``; the wiki
    pushes its recent changes to ``wiki_feed`` when one is given."""
    ensure_packages()
    sandbox = install(folder / "wiki")
    forum_server = ForumServer(rate_limit_per_minute=forum_rate_limit)
    with WikiServer(sandbox, feed=wiki_feed) as server, forum_server as forum:
        sections: dict[str, dict[str, Any]] = {
            "service": {"secret_key": uuid.uuid4().hex * 2},
            "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
            "wiki": sandbox.wiki_config(server.url),
            "forum": {
                "url": forum.url,
                "api_key": forum.api_key,
                "api_username": forum.api_username,
            },
        }
        for name, values in (overrides or {}).items():
            sections[name] = {**sections.get(name, {}), **values}
        settings = load_config(environ={}, overrides=sections)
        upgrade(settings["store"]["url"])
        store = Store(settings["store"]["url"])
        try:
            yield World(settings, store, server.url, forum, folder)
        finally:
            store.dispose()


def create_pages(settings: Settings, pages: int) -> list[str]:
    """``pages`` new constellation pages on the wiki (each its own forum category)."""
    writer = WikiClient(settings["wiki"])
    prefix = f"Bench constellation {uuid.uuid4().hex[:6]}"
    titles = [f"{prefix} {n}" for n in range(pages)]
    for number, title in enumerate(titles):
        writer.edit(title, constellation_text(number), summary="benchmark page", mode="create")
    return titles


def run(pages: int = PAGES, *, echo: Callable[[str], None] = print) -> Result:
    with (
        tempfile.TemporaryDirectory(prefix="constellate-bench-") as folder,
        world(Path(folder)) as there,
    ):
        return _measure(there.store, there.settings, there.wiki_url, there.folder, pages, echo)


def _measure(
    store: Store,
    settings: Settings,
    wiki_url: str,
    folder: Path,
    pages: int,
    echo: Callable[[str], None],
) -> Result:
    titles = create_pages(settings, pages)
    initial = _sync_phase("initial full sync", store, settings)
    resync = _sync_phase("no-change resync", store, settings)

    reader = WikiClient(settings["wiki"])
    reader.read_pages(titles[:1])  # log in first: pywikibot's site is ready before timing too
    high = "apihighlimits" in reader._login().rights
    limit = TITLES_PER_QUERY_HIGH if high else TITLES_PER_QUERY
    before = reader.request_counts.total()
    started = time.perf_counter()
    reader.read_pages(titles)
    read_seconds = time.perf_counter() - started
    read_requests = reader.request_counts.total() - before
    theirs = _pywikibot_read(wiki_url, titles, folder)

    result = Result(
        pages,
        initial,
        resync,
        math.ceil(pages / limit),
        read_seconds,
        read_requests,
        theirs,
        resync_goal(pages, limit),
    )
    echo(
        f"constellation_sync: {pages} pages; minimum for batched reads "
        f"ceil({pages}/{limit}) = {result.minimum_reads} read request(s)"
    )
    echo(initial.describe(pages))
    echo(resync.describe(pages))
    echo(
        f"  goal: no-change resync <= ceil({pages}/{limit}) + 2 = {result.resync_goal} wiki "
        f"requests and 0 forum requests; it made {resync.wiki.work()} and "
        f"{resync.forum.total()}: {'met' if result.goal_met else 'MISSED'}"
    )
    echo(
        f"  read phase: ours {read_seconds:.3f} s in {read_requests} request(s); pywikibot "
        f"PreloadingGenerator {theirs['seconds']:.3f} s in {theirs['requests']} request(s); "
        f"ratio ours/pywikibot = {read_seconds / theirs['seconds']:.3f}"
    )
    if resync.wiki.writes() or resync.forum.writes():
        raise WritesOnResync(
            f"the no-change resync wrote: wiki {dict(resync.wiki)}, forum {dict(resync.forum)}"
        )
    return result


def _sync_phase(name: str, store: Store, settings: Settings) -> Phase:
    wiki, forum = WikiClient(settings["wiki"]), ForumClient(settings["forum"])
    wiki_counts, forum_counts = MethodCounts(), MethodCounts()
    wiki.session.hooks["response"].append(wiki_counts.hook)
    forum.session.hooks["response"].append(forum_counts.hook)
    started = time.perf_counter()
    summary = sync_constellations(store, settings, full=True, wiki=wiki, forum=forum)
    return Phase(name, summary, wiki_counts, forum_counts, time.perf_counter() - started)


def _pywikibot_read(api_base: str, titles: list[str], folder: Path) -> dict[str, Any]:
    """pywikibot in its own process, its configuration and files in a temporary folder."""
    base = folder / "pywikibot"
    base.mkdir()
    listing = folder / "titles.txt"
    listing.write_text("\n".join(titles) + "\n")
    env = {**os.environ, "PYWIKIBOT_DIR": str(base), "PYWIKIBOT_NO_USER_CONFIG": "2"}
    done = subprocess.run(
        [sys.executable, str(READER), f"{api_base}/api.php", str(listing)],
        env=env,
        cwd=base,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pywikibot reader failed:\n{done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if answer["pages"] != len(titles):
        raise RuntimeError(f"pywikibot read {answer['pages']} of {len(titles)} pages")
    return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench constellation_sync")
    parser.add_argument("--pages", type=int, default=PAGES)
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when the goal is missed"
    )
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error(f"--pages: expected 1 or more, got {args.pages}")
    result = run(args.pages)
    if args.strict and not result.goal_met:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
