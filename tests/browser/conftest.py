"""A live service for browser tests, driven by headless Chromium through Playwright.

The example partnership is seeded once per test session (a wiki of its own, a forum
sandbox, health recomputed weekly over the last weeks so the charts have a history) and
the real app is served on a loopback port with DiscourseConnect set up against the forum,
which has a moderator and a plain member. Every test gets a fresh browser context whose
console errors, page errors and dialogs are recorded; there must be none at the end (a
Content-Security-Policy violation is logged as a console error, so this also proves the
policy blocks nothing the pages need).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from community.activity import record_history
from community.credits.people import refresh_forum_people
from community.health.runs import recompute_and_alert, recompute_everything
from community.partners.affiliation import refresh_affiliations
from connectors.discourse import ForumClient
from core import clock
from core.config import Settings
from core.models import InboxEvent
from core.store import Store
from sandbox.wiki import free_port
from service.app import create_app
from service.worker import Worker
from tests.conftest import SessionWiki, served_wiki
from tests.example_support import seeded_example
from webhooks.incoming.forum_poll import poll_forum

CONNECT_SECRET = "browser-connect-secret-0123456789"
MODERATOR = "dash_moderator"
MEMBER = "dash_member"
HISTORY_WEEKS = 6  # weekly health snapshots before today's, for the over-time charts
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000


@dataclass
class Site:
    """The running service and what the tests reach behind it."""

    url: str
    settings: Settings  # as the service runs with them
    store: Store
    forum: ForumClient  # the forum's admin (system) account
    wiki: SessionWiki
    now: datetime  # the clock the example was seeded and measured at

    def work(self) -> list[str]:
        """Run a worker until the inbox has nothing due (the service's own is off, so
        tests decide when queued actions happen); returns the events that did not end
        done or ignored, with why: none when all went well (events already dead before
        are not counted again)."""
        dead_before = {key for key, (state, _) in self._unfinished().items() if state == "dead"}
        worker = Worker(self.store, self.settings)
        while worker.run_once():
            pass
        return [why for key, (_, why) in self._unfinished().items() if key not in dead_before]

    def _unfinished(self) -> dict[int, tuple[str, str]]:
        with self.store.session() as session:
            rows = session.scalars(
                select(InboxEvent).where(
                    InboxEvent.state.not_in(("done", "ignored")),
                    # Asked for later (a busy page's next section refresh, the next
                    # interval's badges run), not failed: not yet due.
                    ~(
                        (InboxEvent.state == "pending")
                        & (InboxEvent.available_at > clock.now())
                        & InboxEvent.last_error.is_(None)
                    ),
                )
            )
            return {
                e.id: (e.state, f"{e.kind} {e.subject}: {e.state}, {e.reason or e.last_error}")
                for e in rows
            }


@dataclass
class BrowserLog:
    """What a page reported that a person would never see, and every dialog it opened."""

    forum_url: str  # the forum sandbox's pages are not ours: their errors are not counted
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_error(self, text: str) -> None:
        """A console error containing ``text`` is what the test wants (a refusal's 403)."""
        self.expected.append(text)

    def on_console(self, message: ConsoleMessage) -> None:
        where = str(message.location.get("url") or "")
        if message.type == "error" and not where.startswith(self.forum_url):
            self.errors.append(f"console: {message.text} at {where}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(text in e for text in self.expected)]


@dataclass
class Camera:
    """Full-page screenshots named ``<test>-<page>.png``, for people to look at."""

    test_name: str

    def shoot(self, page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def forum_account(forum: ForumClient, username: str) -> int:
    """An active forum account made through the admin API; returns its id."""
    name = username.replace("_", " ").title()
    return forum.create_user(username, name, f"{username}@example.net").id


def measure_health(store: Store, settings: Settings, forum: ForumClient, now: datetime) -> None:
    """The forum's history in the store (as `constellate backfill` reads it, without the
    credit), with a health snapshot a week for the last weeks."""
    with store.session() as session:
        refresh_forum_people(session, forum)
        refresh_affiliations(session, forum)
        record_history(session, forum)
    for weeks in range(HISTORY_WEEKS, 0, -1):
        with store.session() as session:
            recompute_everything(session, settings, now=now - timedelta(weeks=weeks))
    recompute_and_alert(store, settings, now=now, forum=forum)


def converse(site: Site) -> None:
    """A conversation after the seed, read by the forum poll and handled by the worker as
    any new post is, so the ledger holds credit (seeded history is measured, not credited)."""
    poll_forum(site.store, site.settings)  # the first poll only marks where reading starts
    category = next(c for c in site.forum.categories() if c.name == "Flood Wardens")
    topic = site.forum.acting_as("maren_okafor").create_topic(
        "Sandbag stores before the spring tides",
        "Which streets still have no sandbag store? We can fill the gaps this month.",
        category_id=category.id,
        external_id="browser-sandbag-stores",
    )
    answer = site.forum.acting_as("hamid_sadeghi").reply(
        topic.topic_id, "Mill Lane and Weir Row have none; the council can lend a trailer."
    )
    site.forum.acting_as("elif_arslan").reply(topic.topic_id, "Northbank can host one too.")
    site.forum.acting_as("maren_okafor").like(answer.id)
    assert poll_forum(site.store, site.settings).recorded == 3
    assert site.work() == []


@contextmanager
def served(settings: Settings, port: int) -> Iterator[None]:
    """The service's app on 127.0.0.1:``port`` in a thread (werkzeug, threaded)."""
    app = create_app(settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-site", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with ExitStack() as stack:
        wiki = stack.enter_context(
            contextmanager(served_wiki)(tmp_path_factory.mktemp("browser-wiki"))
        )
        seeded = stack.enter_context(
            seeded_example(
                wiki,
                tmp_path_factory.mktemp("browser-site"),
                now,
                service={"secret_key": "b" * 40, "base_url": url},
                dashboard={"secure_cookies": False},
                outgoing={"allow_private_networks": True},
            )
        )
        forum_section = seeded.settings["forum"]
        seeded.forum.site_settings(
            enable_discourse_connect_provider=True,
            discourse_connect_provider_secrets=f"127.0.0.1|{CONNECT_SECRET}",
        )
        moderator_id = forum_account(seeded.forum, MODERATOR)
        granted = requests.put(
            f"{forum_section['url']}/admin/users/{moderator_id}/grant_moderation",
            headers={
                "Api-Key": forum_section["api_key"],
                "Api-Username": forum_section["api_username"],
            },
            timeout=10,
        )
        granted.raise_for_status()
        forum_account(seeded.forum, MEMBER)
        measure_health(seeded.store, seeded.settings, seeded.forum, now)
        settings: Settings = {
            **seeded.settings,
            "forum": {**forum_section, "connect_secret": CONNECT_SECRET},
        }
        site = Site(url, settings, seeded.store, seeded.forum, wiki, now)
        converse(site)
        stack.enter_context(served(settings, port))
        yield site


@pytest.fixture
def browser_log(site: Site) -> BrowserLog:
    return BrowserLog(site.settings["forum"]["url"].rstrip("/") + "/")


@pytest.fixture
def page(browser: Browser, site: Site, browser_log: BrowserLog) -> Iterator[Page]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    opened.on("console", browser_log.on_console)
    opened.on("pageerror", browser_log.on_page_error)
    opened.on("dialog", browser_log.on_dialog)
    yield opened
    context.close()
    assert browser_log.unexpected() == [], "the browser reported errors"
    assert browser_log.dialogs == [], "a dialog opened"


@pytest.fixture
def camera(request: pytest.FixtureRequest) -> Camera:
    return Camera(request.node.name)


def log_in(page: Page, username: str, start: str = "/dashboard/") -> None:
    """The DiscourseConnect login as a person does it: the dashboard sends the browser to
    its login page, the button to the forum, the forum's login form back."""
    page.goto(start)
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    page.get_by_role("link", name="Log in with the forum").click()
    expect(page.get_by_role("heading", name="Forum sandbox login")).to_be_visible()
    page.get_by_label("User").select_option(username)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def moderator(page: Page, site: Site) -> Page:
    """The page, logged in as the forum's moderator (through the forum, as people do)."""
    log_in(page, MODERATOR)
    expect(page).to_have_url(f"{site.url}/dashboard/")
    return page
