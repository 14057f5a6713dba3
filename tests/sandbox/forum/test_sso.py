"""The DiscourseConnect provider, driven like a browser and an app would drive it.

The app side here is written from the facts doc with the standard library and pydiscourse's
consumer helpers, not with the sandbox's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
from pydiscourse import DiscourseClient
from pydiscourse.sso import sso_payload, sso_validate

import sandbox.forum.sso as provider
from sandbox.forum.server import ForumServer
from tests.conftest import UNTHROTTLED

APP_SECRET = "app-secret-" + "x" * 20
WILD_SECRET = "wild-secret-" + "y" * 20
RETURN_URL = "https://app.example.com/discourse/callback"


@pytest.fixture(scope="module")
def server() -> Iterator[ForumServer]:
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as running:
        admin = DiscourseClient(
            running.url, api_username=running.api_username, api_key=running.api_key, timeout=10
        )
        admin.site_settings(enable_discourse_connect_provider="true")
        admin.site_settings(
            discourse_connect_provider_secrets=(
                f"app.example.com|{APP_SECRET}\n*.wild.example|{WILD_SECRET}"
            )
        )
        yield running


@pytest.fixture
def user(server: ForumServer) -> dict[str, Any]:
    admin = DiscourseClient(
        server.url, api_username=server.api_username, api_key=server.api_key, timeout=10
    )
    username = f"sso{uuid.uuid4().hex[:8]}"
    admin.create_user(
        "Sam Signon", username, f"{username}@example.com", uuid.uuid4().hex, active="true"
    )
    found: dict[str, Any] = admin.user(username)
    return found


def browser(server: ForumServer, username: str | None = None) -> requests.Session:
    session = requests.Session()
    if username:
        answer = session.get(
            f"{server.url}/session/sandbox-login", params={"username": username}, timeout=10
        )
        assert answer.status_code == 200
    return session


def provider_url(server: ForumServer, secret: str = APP_SECRET, **fields: str) -> str:
    fields.setdefault("return_sso_url", RETURN_URL)
    fields.setdefault("nonce", secrets.token_hex(16))
    return f"{server.url}/session/sso_provider?{sso_payload(secret, **fields)}"


def answer_fields(location: str, secret: str) -> dict[str, str]:
    """What an app does with the redirect: check the signature, then decode the payload."""
    query = parse_qs(urlsplit(location).query)
    [sso], [sig] = query["sso"], query["sig"]
    expected = hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, sig)
    assert "\n" not in sso
    return dict(parse_qsl(base64.b64decode(sso).decode(), keep_blank_values=True))


def test_logged_in_user_is_sent_back_signed(server: ForumServer, user: dict[str, Any]) -> None:
    nonce = secrets.token_hex(16)
    answer = browser(server, user["username"]).get(
        provider_url(server, nonce=nonce), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(RETURN_URL + "?sso=")
    fields = answer_fields(location, APP_SECRET)
    assert fields["nonce"] == nonce
    assert fields["return_sso_url"] == RETURN_URL
    assert fields["username"] == user["username"]
    assert fields["name"] == "Sam Signon"
    assert fields["email"] == f"{user['username']}@example.com"
    assert fields["external_id"] == str(user["id"])
    assert fields["admin"] == "false" and fields["moderator"] == "false"
    assert "trust_level_0" in fields["groups"].split(",")
    assert list(fields) == sorted(fields)
    # pydiscourse's consumer helper accepts it too (it reads only the nonce).
    query = parse_qs(urlsplit(location).query)
    assert sso_validate(query["sso"][0], query["sig"][0], APP_SECRET) == nonce


def test_return_url_with_a_query_and_wildcard_domains(
    server: ForumServer, user: dict[str, Any]
) -> None:
    return_url = "https://shop.wild.example/sso?from=forum"
    answer = browser(server, user["username"]).get(
        provider_url(server, WILD_SECRET, return_sso_url=return_url),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(return_url + "&sso=")
    assert answer_fields(answer.headers["Location"], WILD_SECRET)["return_sso_url"] == return_url


def test_tampered_signature_is_a_login_error(server: ForumServer, user: dict[str, Any]) -> None:
    url = provider_url(server)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    answer = browser(server, user["username"]).get(tampered, allow_redirects=False, timeout=10)
    assert answer.status_code == 422
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == "Login Error"

    signed_with_another_secret = provider_url(server, "not-the-app-secret-at-all")
    answer = browser(server).get(signed_with_another_secret, allow_redirects=False, timeout=10)
    assert answer.status_code == 422


def test_unknown_host_has_no_secret(server: ForumServer) -> None:
    url = provider_url(server, return_sso_url="https://elsewhere.example.org/cb")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 400
    assert "missing secret" in answer.text


def test_signatures_are_compared_in_constant_time(
    server: ForumServer, user: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[Any, Any]] = []
    real = provider.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(provider.hmac, "compare_digest", spy)
    url = provider_url(server)
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    answer = browser(server, user["username"]).get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    # The forum's own signature of the payload equals the app's, compared as bytes.
    assert (sig.encode(), sig.encode()) in compared


def test_prompt_none_without_login_fails_back_to_the_app(server: ForumServer) -> None:
    nonce = secrets.token_hex(16)
    answer = requests.get(
        provider_url(server, nonce=nonce, prompt="none"), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    fields = answer_fields(answer.headers["Location"], APP_SECRET)
    assert fields["failed"] == "true"
    assert fields["nonce"] == nonce
    assert "username" not in fields


def test_login_page_round_trip(server: ForumServer, user: dict[str, Any]) -> None:
    session = browser(server)
    start = session.get(provider_url(server), allow_redirects=False, timeout=10)
    assert start.status_code == 302
    login = urlsplit(start.headers["Location"])
    assert login.path == "/login"
    return_path = parse_qs(login.query)["return_path"][0]
    assert return_path.startswith("/session/sso_provider?")

    page = session.get(f"{server.url}/login", params={"return_path": return_path}, timeout=10)
    assert "Sandbox only" in page.text and user["username"] in page.text
    hostile = requests.get(
        f"{server.url}/login", params={"return_path": '/x"><script>alert(1)</script>'}, timeout=10
    )
    assert "<script>" not in hostile.text and "&lt;script&gt;" in hostile.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    forged = requests.post(
        f"{server.url}/login",
        data={"username": user["username"], "csrf": "guess"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403

    logged_in = session.post(
        f"{server.url}/login",
        data={"username": user["username"], "csrf": csrf, "return_path": return_path},
        allow_redirects=False,
        timeout=10,
    )
    assert logged_in.status_code == 302
    assert logged_in.headers["Location"] == return_path
    assert "samesite=lax" in logged_in.headers["Set-Cookie"].lower()
    back = session.get(server.url + return_path, allow_redirects=False, timeout=10)
    assert answer_fields(back.headers["Location"], APP_SECRET)["username"] == user["username"]


def test_logout_request_ends_the_forum_session(server: ForumServer, user: dict[str, Any]) -> None:
    session = browser(server, user["username"])
    out = session.get(provider_url(server, logout="true"), allow_redirects=False, timeout=10)
    assert out.status_code == 302
    assert out.headers["Location"] == RETURN_URL
    again = session.get(provider_url(server), allow_redirects=False, timeout=10)
    assert urlsplit(again.headers["Location"]).path == "/login"


def test_newline_wrapped_base64_from_older_apps_is_accepted(
    server: ForumServer, user: dict[str, Any]
) -> None:
    payload = urlencode({"nonce": "n-1", "return_sso_url": RETURN_URL}).encode()
    sso = base64.encodebytes(payload).decode()  # wraps with "\n" like Ruby's encode64
    sig = hmac.new(APP_SECRET.encode(), sso.encode(), hashlib.sha256).hexdigest()
    url = f"{server.url}/session/sso_provider?{urlencode({'sso': sso, 'sig': sig})}"
    answer = browser(server, user["username"]).get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer_fields(answer.headers["Location"], APP_SECRET)["nonce"] == "n-1"


def test_disabled_provider_is_not_found(server: ForumServer) -> None:
    admin = DiscourseClient(
        server.url, api_username=server.api_username, api_key=server.api_key, timeout=10
    )
    admin.site_settings(enable_discourse_connect_provider="false")
    try:
        answer = requests.get(provider_url(server), allow_redirects=False, timeout=10)
        assert answer.status_code == 404
    finally:
        admin.site_settings(enable_discourse_connect_provider="true")
