"""The session's real MediaWiki (Debian's package on SQLite, PHP's built-in server) and
forum sandbox.

Started once for the whole run; tests share them and keep apart by using unique names.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright
from pydiscourse import DiscourseClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.mediawiki import WikiClient
from core.migrate import upgrade
from core.store import Store
from sandbox.browser import launch_chromium
from sandbox.forum.server import ForumServer
from sandbox.forum.state import Forum
from sandbox.wiki import WikiSandbox, WikiServer, ensure_packages, install


class SessionWiki:
    """The running sandbox wiki and ready-made clients for its accounts."""

    def __init__(self, sandbox: WikiSandbox, server: WikiServer) -> None:
        self.sandbox = sandbox
        self.server = server
        self.url = server.url
        self.api = f"{server.url}/api.php"

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The bot's ``[wiki]`` configuration section, with ``overrides`` applied."""
        return {**self.sandbox.wiki_config(self.url), **overrides}

    def bot(self, **overrides: Any) -> WikiClient:
        return WikiClient(self.config(**overrides))

    def human(self, *, bot: bool = False, **overrides: Any) -> WikiClient:
        """A plain (autoconfirmed) account that logs in with its main password."""
        return self._plain(self.sandbox.human_username, self.sandbox.human_password, bot, overrides)

    def newbie(self, **overrides: Any) -> WikiClient:
        """A plain account that is not autoconfirmed, so the newbie rate limit applies."""
        return self._plain(
            self.sandbox.newbie_username, self.sandbox.newbie_password, False, overrides
        )

    def _plain(
        self, username: str, password: str, bot: bool, overrides: dict[str, Any]
    ) -> WikiClient:
        return WikiClient(self.config(username=username, password=password, **overrides), bot=bot)

    @staticmethod
    def title(prefix: str) -> str:
        """A page title no other test uses."""
        return f"{prefix} {uuid.uuid4().hex[:12]}"


def toml(settings: dict[str, Any]) -> str:
    """A configuration file of flat sections (values written as JSON, which TOML reads)."""
    return "".join(
        f"[{section}]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        for section, values in settings.items()
    )


def served_wiki(directory: Path) -> Iterator[SessionWiki]:
    """A fresh wiki installed in ``directory`` and served while the generator runs."""
    ensure_packages()
    sandbox = install(directory)
    with WikiServer(sandbox) as server:
        yield SessionWiki(sandbox, server)


@pytest.fixture(scope="session")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionWiki]:
    yield from served_wiki(tmp_path_factory.mktemp("wiki"))


@pytest.fixture
def wiki_config(wiki: SessionWiki) -> dict[str, Any]:
    """The bot's ``[wiki]`` configuration section for the session's wiki."""
    return wiki.config()


class SessionForum:
    """The running forum sandbox and pydiscourse clients acting as any of its users."""

    def __init__(self, server: ForumServer) -> None:
        assert server.forum is not None
        self.server = server
        self.url = server.url
        self.api_key = server.api_key
        self.api_username = server.api_username
        self.forum: Forum = server.forum

    def client(self, username: str = "system", *, timeout: float = 10.0) -> DiscourseClient:
        return DiscourseClient(
            self.url, api_username=username, api_key=self.api_key, timeout=timeout
        )

    @staticmethod
    def name(prefix: str = "t") -> str:
        """A name no other test uses (usernames allow 20 characters)."""
        return f"{prefix}{uuid.uuid4().hex[:10]}"


# The forum sandboxes of tests that check what the forum answers, not how fast it may be
# asked, allow this many admin requests a minute: hundreds of tests share one forum, and
# at Discourse's 60 each would wait out minutes. Discourse's own limit is held where pace
# is the point: the sandbox's rate-limit tests, tests/service/test_forum_budget_processes.py
# and `bench forum_budget` run at 60, as the demo does.
UNTHROTTLED = 1_000_000


@pytest.fixture(scope="session")
def forum() -> Iterator[SessionForum]:
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        yield SessionForum(server)


# The local PostgreSQL server; scripts/test.sh starts it and creates this role.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://constellate:constellate@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    name = f"constellate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    """The local Redis server (scripts/setup.sh starts it). Tests keep apart by naming
    their queues after their own stores."""
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on SQLite, then on PostgreSQL."""
    upgrade(store_url)
    made = Store(store_url)
    yield made
    made.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session: Playwright's sync API holds an event loop
    on this thread while it runs, so a second one could not start beside it."""
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()
