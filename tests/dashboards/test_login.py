"""Moderator login through DiscourseConnect against the forum sandbox, the role re-check,
and the guards in front of the pages and the API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from connectors.discourse import ForumClient
from core.store import get_store
from dashboards.models import DashboardSession
from dashboards.roles import recheck_roles
from dashboards.sessions import PLAIN_COOKIE
from tests.conftest import SessionForum
from tests.dashboards.support import dashboard_app

HOST = "dashboard.example.org"
SECRET = "dashboard-connect-secret-0123456789"


@pytest.fixture
def app(forum: SessionForum, tmp_path: Path) -> Iterator[Flask]:
    forum_section = {"url": forum.url, "api_key": forum.api_key, "api_username": "system"}
    ForumClient(forum_section).site_settings(
        enable_discourse_connect_provider="true",
        discourse_connect_provider_secrets=f"{HOST}|{SECRET}",
    )
    yield dashboard_app(
        f"sqlite:///{tmp_path / 'store.db'}",
        service={"secret_key": "s" * 40, "base_url": f"https://{HOST}"},
        forum={**forum_section, "connect_secret": SECRET},
        dashboard={"allowed_groups": ["stewards"]},
    )


def person(forum: SessionForum, *, moderator: bool = False, group: str | None = None) -> str:
    name = forum.name("m")
    admin = forum.client()
    admin.create_user(name, name, f"{name}@example.net", "pw-" + name * 2, active="true")
    user_id = admin.user(name)["id"]
    if moderator:
        admin._put(f"/admin/users/{user_id}/grant_moderation")
    if group is not None:
        found = [g for g in admin.groups() if g["name"] == group]
        if not found:
            admin.create_group(group)
            found = [g for g in admin.groups() if g["name"] == group]
        admin.add_group_member(found[0]["id"], name)
    return name


def browser_of(forum: SessionForum, username: str) -> requests.Session:
    browser = requests.Session()
    answer = browser.get(f"{forum.url}/session/sandbox-login", params={"username": username})
    assert answer.status_code == 200
    return browser


def log_in(
    client: FlaskClient, forum: SessionForum, username: str, start: str = "/dashboard/"
) -> TestResponse:
    """The whole dance: page → login → forum → callback; the callback's answer."""
    first = client.get(start)
    assert first.status_code == 302 and first.headers["Location"].startswith("/dashboard/login")
    login_page = client.get(first.headers["Location"])
    assert "Log in with the forum" in login_page.text
    started = client.get(first.headers["Location"].replace("/login", "/login/start", 1))
    assert started.status_code == 302
    provider = started.headers["Location"]
    assert provider.startswith(f"{forum.url}/session/sso_provider?sso=")
    answer = browser_of(forum, username).get(provider, allow_redirects=False)
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert (back.scheme, back.netloc, back.path) == ("https", HOST, "/dashboard/login/callback")
    return client.get(f"{back.path}?{back.query}")


def test_a_moderator_logs_in_through_the_forum_and_lands_where_they_were_going(
    app: Flask, forum: SessionForum, caplog: pytest.LogCaptureFixture
) -> None:
    name = person(forum, moderator=True)
    client = app.test_client()
    caplog.set_level(logging.INFO, "constellate.dashboard.auth")
    done = log_in(client, forum, name, start="/dashboard/sync?page=2")
    assert done.status_code == 302 and done.headers["Location"] == "/dashboard/sync?page=2"
    assert f"dashboard login: {name}" in caplog.text
    assert SECRET not in caplog.text
    with get_store(app).session() as db:
        row = db.scalars(select(DashboardSession)).one()
        assert row.username == name and row.forum_user_id is not None
    page = client.get("/api/openapi.json")
    assert page.status_code == 200


def test_a_member_of_an_allowed_group_gets_in_and_others_are_refused(
    app: Flask, forum: SessionForum, caplog: pytest.LogCaptureFixture
) -> None:
    steward = person(forum, group="stewards")
    assert log_in(app.test_client(), forum, steward).status_code == 302
    plain = person(forum)
    refused_client = app.test_client()
    caplog.set_level(logging.INFO, "constellate.dashboard.auth")
    refused = log_in(refused_client, forum, plain)
    assert refused.status_code == 403
    assert f"The forum account {plain} is not an admin, a moderator" in refused.text
    assert f"{plain} is not a moderator or allowed" in caplog.text
    assert refused_client.get("/dashboard/sync").status_code == 302  # still not in
    assert refused_client.get("/api/v1/sync").status_code == 401


def test_an_answer_is_used_once_and_only_in_the_browser_that_asked(
    app: Flask, forum: SessionForum
) -> None:
    name = person(forum, moderator=True)
    client = app.test_client()
    started = client.get("/dashboard/login/start")
    answer = browser_of(forum, name).get(started.headers["Location"], allow_redirects=False)
    back = urlsplit(answer.headers["Location"])
    callback = f"{back.path}?{back.query}"

    other = app.test_client()  # a stolen answer replayed in another browser
    assert other.get(callback).status_code == 403
    forged = callback.replace("sig=", "sig=0", 1)
    assert client.get(forged).status_code == 403  # and a forged one ends this attempt too
    assert client.get(callback).status_code == 403  # the nonce is spent

    fresh = app.test_client()
    started = fresh.get("/dashboard/login/start")
    answer = browser_of(forum, name).get(started.headers["Location"], allow_redirects=False)
    back = urlsplit(answer.headers["Location"])
    assert fresh.get(f"{back.path}?{back.query}").status_code == 302
    assert fresh.get(f"{back.path}?{back.query}").status_code == 403  # spent, even here
    assert len(parse_qs(back.query)["sig"][0]) == 64


def test_the_nonce_expires_after_ten_minutes(app: Flask, forum: SessionForum) -> None:
    name = person(forum, moderator=True)
    client = app.test_client()
    started = client.get("/dashboard/login/start")
    with get_store(app).session() as db:
        row = db.scalars(select(DashboardSession)).one()
        login = dict(row.data["login"])  # type: ignore[call-overload]
        login["started"] = (datetime.now(UTC) - timedelta(minutes=11)).isoformat()
        row.data = {**row.data, "login": login}
    answer = browser_of(forum, name).get(started.headers["Location"], allow_redirects=False)
    back = urlsplit(answer.headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 403


def test_a_moderator_who_loses_the_role_is_logged_out_at_the_next_check(
    app: Flask, forum: SessionForum
) -> None:
    keeper, loser = person(forum, moderator=True), person(forum, moderator=True)
    clients = {name: app.test_client() for name in (keeper, loser)}
    for name, client in clients.items():
        assert log_in(client, forum, name).status_code == 302
    admin = forum.client()
    admin._put(f"/admin/users/{admin.user(loser)['id']}/revoke_moderation")
    settings = app.config["CONSTELLATE"]
    store = get_store(app)
    forum_client = ForumClient(settings["forum"])
    now = datetime.now(UTC)
    assert recheck_roles(store, settings, forum_client, now=now) == 0  # checked at login
    later = now + timedelta(minutes=6)
    assert recheck_roles(store, settings, forum_client, now=later) == 1
    with store.session() as db:
        left = db.scalars(select(DashboardSession.username)).all()
        assert left == [keeper]
        checked = db.scalar(select(func.max(DashboardSession.role_checked_at)))
        assert checked == later
    assert clients[loser].get("/dashboard/login").status_code == 200  # the login page again
    assert clients[keeper].get("/dashboard/login").status_code == 302  # still in


def test_pages_and_api_refuse_strangers(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/dashboard/sync")
    assert page.status_code == 302
    assert page.headers["Location"] == "/dashboard/login?next=/dashboard/sync"
    api = client.get("/api/v1/sync")
    assert api.status_code == 401 and api.json == {
        "error": "send an API token (Authorization: Bearer …) or log in"
    }
    assert api.headers["WWW-Authenticate"] == 'Bearer realm="constellate"'
    bad = client.get("/api/v1/sync", headers={"Authorization": "Bearer cst_nope"})
    assert bad.status_code == 401
    assert PLAIN_COOKIE not in (page.headers.get("Set-Cookie") or "")  # no session for nobody


def test_next_never_leaves_the_dashboard(app: Flask) -> None:
    client = app.test_client()
    for target in ("https://evil.example/", "//evil.example/x", "/dashboard/\\evil", "/people"):
        page = client.get("/dashboard/login", query_string={"next": target})
        assert 'href="/dashboard/login/start?next=/dashboard/"' in page.text
    kept = client.get("/dashboard/login", query_string={"next": "/dashboard/people?page=2"})
    assert 'href="/dashboard/login/start?next=/dashboard/people?page%3D2"' in kept.text
