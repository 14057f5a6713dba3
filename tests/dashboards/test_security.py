"""The browser-facing defences: CSRF on every form, the session cookie's flags, the
security headers, server-side sessions that logout, idle time and age really end, API
tokens, and the record of refused webhook deliveries."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, request
from sqlalchemy import select

from core.store import get_store
from dashboards.headers import CONTENT_SECURITY_POLICY
from dashboards.models import ApiToken, DashboardSession
from dashboards.sessions import PLAIN_COOKIE, SECURE_COOKIE, StoreSession, id_hash
from service.main import main
from tests.dashboards.support import dashboard_app, login
from webhooks.incoming.refusal_model import IncomingRefusal

GUARDED = "/dashboard/sync"
# Login can start (it stores a nonce, so a session); no forum is asked in these tests.
FORUM = {"url": "https://forum.example.org", "connect_secret": "c" * 32}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return dashboard_app(f"sqlite:///{tmp_path / 'store.db'}", csrf=True, forum=FORUM)


def token_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


def test_a_form_post_without_or_with_a_wrong_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    sid = login(client)
    page = client.get(GUARDED)
    assert page.status_code == 200
    token = token_in(page.text)
    assert client.post("/dashboard/logout").status_code == 400
    assert client.post("/dashboard/logout", data={"csrf_token": "x" + token}).status_code == 400
    with get_store(app).session() as db:
        assert db.get(DashboardSession, id_hash(sid)) is not None  # still logged in
    done = client.post("/dashboard/logout", data={"csrf_token": token})
    assert done.status_code == 303


def test_the_webhook_endpoints_need_no_csrf_token_but_a_signature(app: Flask) -> None:
    answer = app.test_client().post("/webhooks/discourse", data=b"{}")
    assert answer.status_code == 401  # refused for its signature, not for CSRF (400)


def test_logout_ends_the_session_on_the_server(app: Flask) -> None:
    client = app.test_client()
    sid = login(client)
    token = token_in(client.get(GUARDED).text)
    done = client.post("/dashboard/logout", data={"csrf_token": token})
    assert done.headers["Location"] == "/dashboard/login?logged_out=1"
    assert f"{PLAIN_COOKIE}=;" in done.headers["Set-Cookie"]  # the browser forgets it
    with get_store(app).session() as db:
        assert db.get(DashboardSession, id_hash(sid)) is None
    # A copy of the old cookie is worth nothing now.
    replayed = app.test_client()
    replayed.set_cookie(PLAIN_COOKIE, sid)
    assert replayed.get(GUARDED).status_code == 302
    assert "You are logged out." in client.get(done.headers["Location"]).text


@pytest.mark.parametrize(("age", "idle"), [(timedelta(hours=9), False), (timedelta(0), True)])
def test_a_session_past_its_age_or_idle_time_is_gone(
    app: Flask, age: timedelta, idle: bool
) -> None:
    client = app.test_client()
    sid = login(client)
    with get_store(app).session() as db:
        row = db.get(DashboardSession, id_hash(sid))
        assert row is not None
        now = datetime.now(UTC)
        if idle:
            row.last_seen_at = now - timedelta(minutes=61)
        else:
            row.created_at, row.expires_at = now - age, now - age + timedelta(hours=8)
    assert client.get(GUARDED).status_code == 302
    with get_store(app).session() as db:
        assert db.get(DashboardSession, id_hash(sid)) is None


def test_the_session_cookie_flags(tmp_path: Path) -> None:
    secure = dashboard_app(
        f"sqlite:///{tmp_path / 's.db'}", dashboard={"secure_cookies": True}, forum=FORUM
    )
    started = secure.test_client().get("/dashboard/login/start")  # stores a nonce: a cookie
    cookie = started.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE}=")
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "max-age"} <= flags and "domain" not in flags
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=28800" in cookie  # eight hours, not Flask's 31 days
    assert secure.test_client().get("/dashboard/login").headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains"
    )

    local = dashboard_app(f"sqlite:///{tmp_path / 'l.db'}", forum=FORUM)  # http on a laptop
    cookie = local.test_client().get("/dashboard/login/start").headers["Set-Cookie"]
    assert cookie.startswith(f"{PLAIN_COOKIE}=") and "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_login_gives_a_new_session_id(app: Flask) -> None:
    client = app.test_client()
    client.get("/dashboard/login/start")
    planted = client.get_cookie(PLAIN_COOKIE)
    assert planted is not None
    # What the callback does after a good answer, without the forum: rotate and log in.
    with app.test_request_context(headers={"Cookie": f"{PLAIN_COOKIE}={planted.value}"}):
        session = app.session_interface.open_session(app, request)
        assert isinstance(session, StoreSession) and session.sid == planted.value
        session["user"] = {"username": "mod", "forum_user_id": 1, "name": ""}
        session.regenerate()
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
        assert session.sid != planted.value
    with get_store(app).session() as db:
        assert db.get(DashboardSession, id_hash(planted.value)) is None
        assert db.get(DashboardSession, id_hash(session.sid)) is not None


def test_every_answer_carries_the_security_headers(app: Flask) -> None:
    client = app.test_client()
    login(client)
    for path in ("/dashboard/login", GUARDED, "/api/openapi.json", "/healthz"):
        answer = client.get(path)
        assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert client.get(GUARDED).headers["Cache-Control"] == "no-store"
    assert client.get(GUARDED).headers["Content-Type"] == "text/html; charset=utf-8"


def test_pages_have_no_inline_script_or_style(app: Flask) -> None:
    client = app.test_client()
    login(client)
    for path in ("/dashboard/login", GUARDED):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"\sstyle=|<style", html), path
        assert not re.search(r"\son[a-z]+=", html), path


def test_api_tokens_are_made_once_checked_and_revoked(app: Flask, tmp_path: Path) -> None:
    config = tmp_path / "constellate.toml"
    config.write_text(
        f'[store]\nurl = "{app.config["CONSTELLATE"]["store"]["url"]}"\n'
        f'[service]\nsecret_key = "{"s" * 40}"\n'
        f'[wiki]\nurl = "http://127.0.0.1:9"\nusername = "B@c"\npassword = "p"\n'
    )
    runner = CliRunner()
    made = runner.invoke(main, ["--config", str(config), "api-token", "create", "reporting"])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert token.startswith("cst_") and len(token) > 40
    again = runner.invoke(main, ["--config", str(config), "api-token", "create", "reporting"])
    assert again.exit_code != 0 and "exists" in again.output
    with get_store(app).session() as db:
        row = db.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # never the token
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sync", headers=headers).status_code == 200
    assert client.get(GUARDED, headers=headers).status_code == 302  # pages are for people
    listed = runner.invoke(main, ["--config", str(config), "api-token", "list"])
    assert "reporting\tlive" in listed.output and token not in listed.output
    gone = runner.invoke(main, ["--config", str(config), "api-token", "revoke", "reporting"])
    assert gone.exit_code == 0
    assert client.get("/api/v1/sync", headers=headers).status_code == 401


def test_refused_deliveries_are_recorded_without_their_body(app: Flask) -> None:
    body = b'{"post": {"raw": "private words"}}'
    answer = app.test_client().post(
        "/webhooks/discourse",
        data=body,
        headers={"X-Discourse-Event": "post_created", "X-Discourse-Event-Id": "41"},
    )
    assert answer.status_code == 401
    with get_store(app).session() as db:
        [row] = db.scalars(select(IncomingRefusal)).all()
        assert (row.source, row.status, row.event_name, row.delivery_id) == (
            "forum",
            401,
            "post_created",
            "41",
        )
        assert answer.json is not None and row.reason == answer.json["error"]
        assert row.body_sha256 == hashlib.sha256(body).hexdigest()
        assert row.body_size == len(body)
