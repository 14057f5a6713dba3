"""The Sync page's tests: the service with the dashboard on, a logged-in moderator's
browser, the platforms the worker syncs with, and a worker with the page's handlers."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import dashboards.sync_status  # noqa: F401  (its routes must exist before an app is made)
from community.constellations.forum_mirror import forum_link
from community.constellations.models import PageTopicLink, SyncIssue
from community.constellations.sync import SyncSummary, sync_constellations
from community.handling import Handler
from connectors.discourse.client import ForumClient
from core.clock import Clock
from core.models import InboxEvent
from core.store import Store, get_store
from service import dispatch
from service.dispatch import HANDLERS
from service.worker import Worker
from tests.community.constellations.sync_support import register_partners
from tests.conftest import SessionForum, SessionWiki
from tests.dashboards.support import dashboard_app, login


def handlers_for(kind: str) -> tuple[Handler, ...]:
    """The dispatch table with the Sync page's kinds (as service.dispatch wires them)."""
    if kind in HANDLERS:
        return tuple(HANDLERS[kind])
    return dispatch.handlers_for(kind)


class Site:
    """The service with the dashboard on ``store_url``, a logged-in moderator's browser,
    and (when given) the wiki and forum the worker syncs with and the app's ``clock``."""

    def __init__(
        self,
        store_url: str,
        wiki: SessionWiki | None = None,
        forum: SessionForum | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        sections: dict[str, dict[str, Any]] = {}
        if wiki is not None:
            sections["wiki"] = wiki.config()
        if forum is not None:
            self.parent = forum.name("Constellations ")
            sections["forum"] = {
                "url": forum.url,
                "api_key": forum.api_key,
                "api_username": forum.api_username,
            }
            sections["constellations"] = {"parent_category": self.parent}
        self.app: Flask = dashboard_app(store_url, csrf=False, clock=clock, **sections)
        self.settings: Any = self.app.config["CONSTELLATE"]
        self.store: Store = get_store(self.app)
        register_partners(self.store)  # the partners the test charters name
        self.client: FlaskClient = self.app.test_client()
        login(self.client)
        self.wiki, self.forum_sandbox = wiki, forum

    # -- the platforms, as people and the sync command touch them -------------------------

    def forum(self) -> ForumClient:
        return ForumClient(self.settings["forum"])

    def write_page(self, title: str, text: str) -> None:
        assert self.wiki is not None
        self.wiki.bot().edit(title, text, summary="sync page test", mode="any")

    def edit_page(self, title: str, old: str, new: str) -> None:
        assert self.wiki is not None
        bot = self.wiki.bot()
        page = bot.read_pages([title])[title]
        assert old in page.text
        bot.edit(title, page.text.replace(old, new), summary="sync page test", base=page)

    def sync(self, title: str) -> SyncSummary:
        return sync_constellations(self.store, self.settings, titles=[title])

    def link(self, title: str) -> PageTopicLink:
        assert self.wiki is not None
        page = self.wiki.bot().read_pages([title])[title]
        assert page.pageid is not None
        with self.store.session() as session:
            link = forum_link(session, page.pageid)
            assert link is not None
            session.expunge(link)
            return link

    def post_text(self, title: str) -> str:
        link = self.link(title)
        return self.forum().get_post(link.forum_post_id or 0).raw or ""

    def edit_on_forum(self, post_id: int, old: str, new: str) -> None:
        """A person edits the charter post on the forum."""
        assert self.forum_sandbox is not None
        people = self.forum_sandbox.client()
        raw = people.post_by_id(post_id)["raw"]
        assert old in raw
        people.update_post(post_id, raw.replace(old, new), edit_reason="by hand")

    # -- the store and the worker ---------------------------------------------------------

    def run_worker(self) -> None:
        worker = Worker(self.store, self.settings, sleep=lambda _s: None, handlers_for=handlers_for)
        while worker.run_once():
            pass

    def events(self, kind: str) -> list[InboxEvent]:
        with self.store.session() as session:
            query = select(InboxEvent).where(InboxEvent.kind == kind).order_by(InboxEvent.id)
            return list(session.scalars(query))

    def issue(self, issue_id: int) -> SyncIssue:
        with self.store.session() as session:
            found = session.get(SyncIssue, issue_id)
            assert found is not None
            return found

    def open_issues(self, title: str) -> list[SyncIssue]:
        with self.store.session() as session:
            query = select(SyncIssue).where(
                SyncIssue.wiki_title == title, SyncIssue.resolved_at.is_(None)
            )
            return list(session.scalars(query))

    # -- the browser ----------------------------------------------------------------------

    def page(self, path: str = "/dashboard/sync") -> str:
        response = self.client.get(path)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def post(self, path: str, **form: str) -> None:
        response = self.client.post(path, data=form)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/dashboard/sync")

    def flashes(self) -> list[tuple[str, str]]:
        """The messages the next page shows, as (category, text)."""
        found = re.findall(r'<p class="flash (\w+)" role="status">(.*?)</p>', self.page())
        return [(category, unescape(text)) for category, text in found]


def resolve_path(issue_id: int) -> str:
    return f"/dashboard/sync/issues/{issue_id}/resolve"
