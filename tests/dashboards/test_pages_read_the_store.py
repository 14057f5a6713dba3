"""Every dashboard page and API answer reads the store only: with wiki and forum clients
that raise on any call, and no HTTP request allowed out of the process, each answers 200.

The routes are read from the app itself, so a page added later is checked too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from community.credits.models import Person
from connectors.discourse.admin import ForumAdmin
from connectors.discourse.client import ForumClient
from connectors.mediawiki.client import WikiClient
from core.events import Event
from core.inbox import record
from core.store import get_store
from tests.dashboards.overview_support import FLOOD, NOW, build
from tests.dashboards.support import dashboard_app, login

FORUM_URL = "https://forum.example.org"
BLUEPRINTS = ("dashboard.", "api.", "openapi_document")
# Pages for people not logged in (a moderator asking for them is sent on).
ANONYMOUS = {"dashboard.login"}
# GET routes that are not pages of the store, each with its reason.
NOT_PAGES = {
    "dashboard.login_start": "a redirect to the forum's login, which the browser follows",
    "dashboard.login_callback": "checks the forum's signed answer; refused without one",
    "dashboard.static": "files, not pages",
}


class PlatformCalled(AssertionError):
    """A page reached for the wiki or the forum."""


@pytest.fixture
def platform_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every method of the platform clients, and every HTTP request, raises (and is noted,
    in case a page swallows the error)."""
    calls: list[str] = []

    def refusing(name: str) -> Callable[..., Any]:
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            calls.append(name)
            raise PlatformCalled(f"a page called {name}")

        return refuse

    for client in (ForumClient, WikiClient, ForumAdmin):
        for name, value in list(vars(client).items()):
            if callable(value) and not name.startswith("__"):
                monkeypatch.setattr(client, name, refusing(f"{client.__name__}.{name}"))
        monkeypatch.setattr(client, "__init__", refusing(f"{client.__name__}()"))
    monkeypatch.setattr(requests.Session, "request", refusing("requests.Session.request"))
    yield calls


@pytest.fixture
def app(sqlite_url: str) -> Flask:
    """The Overview tests' partnership, a stored forum post, and the forum's login set up."""
    forum = {"url": FORUM_URL, "api_username": "system", "connect_secret": "c" * 32}
    partnership = dashboard_app(sqlite_url, forum=forum)
    build(get_store(partnership), partnership.config["CONSTELLATE"])
    with get_store(partnership).session() as session:
        record(session, post_event())
    return partnership


def moderator(app: Flask) -> FlaskClient:
    """A moderator's browser, logged in."""
    browser = app.test_client()
    login(browser)
    return browser


def post_event() -> Event:
    post = {"id": 9, "topic_id": 1, "username": "alice", "raw": "Sandbags by Friday?"}
    return Event(
        event_id="forum:post_created:post:9",
        kind="forum.post_created",
        source="forum",
        subject="post:9",
        actor="alice",
        occurred_at=NOW - timedelta(hours=1),
        delivery_id="9",
        payload={"post": {**post, "post_number": 2, "topic_title": "Sandbags"}},
    )


def page_rules(app: Flask) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(BLUEPRINTS)
        and "GET" in (rule.methods or ())
        and rule.endpoint not in NOT_PAGES
    ]


def address(rule: Rule, app: Flask) -> str:
    with get_store(app).session() as session:
        person = session.scalars(select(Person.id).order_by(Person.id)).first()
    values = {"page_id": FLOOD, "person_id": person}
    with app.test_request_context():
        built = rule.build({name: values[name] for name in rule.arguments})
    assert built is not None, rule
    return built[1]


def test_every_page_answers_from_the_store_alone(app: Flask, platform_calls: list[str]) -> None:
    client = moderator(app)
    rules = page_rules(app)
    assert {"dashboard.overview", "dashboard.constellation", "api.sync_state"} <= {
        rule.endpoint for rule in rules
    }
    anonymous = app.test_client()
    answers = {
        address(rule, app): (anonymous if rule.endpoint in ANONYMOUS else client)
        .get(address(rule, app))
        .status_code
        for rule in rules
    }
    assert answers == dict.fromkeys(answers, 200)
    assert platform_calls == []


@pytest.mark.parametrize("form", [{"event": "1"}, {"at": "2026-03-02T09:00"}])
def test_the_dry_run_answers_from_the_store_alone(
    app: Flask, platform_calls: list[str], form: dict[str, str]
) -> None:
    answer = moderator(app).post("/dashboard/automations/dry-run", data=form)
    assert answer.status_code == 200
    assert platform_calls == []


def test_a_page_that_calls_a_platform_is_caught(app: Flask, platform_calls: list[str]) -> None:
    """The fixture itself: a client made and called inside a request fails the page."""
    with app.test_request_context(), pytest.raises(PlatformCalled):
        ForumClient({"url": FORUM_URL}).categories()
    with pytest.raises(PlatformCalled):
        requests.get(FORUM_URL, timeout=1)
    assert platform_calls == ["ForumClient()", "requests.Session.request"]
