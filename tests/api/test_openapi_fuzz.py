"""Issue 10, "Bad input": schemathesis generates requests from the service's own OpenAPI
document and sends them to the service (in process, over WSGI).

1. Every JSON API operation with a valid API token: never a 5xx, and every answer has a
   documented status, content type, headers and body.
2. The same operations without a token, with a revoked or unknown one, or with another
   scheme: 401 with a JSON error every time, never data.
3. The webhook receivers: unsigned or wrongly signed deliveries are refused with 401 and
   store nothing; signed ones are never a 5xx, are 2xx only when well-formed, and when
   well-formed are refused only if the store cannot keep them.

The runs together send a few thousand requests; the last test checks how many.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from sqlalchemy import func, select

import schemas
from core.models import InboxEvent
from core.store import get_store
from dashboards.openapi import document
from tests.api.conftest import (
    FORUM_SECRET,
    FORUM_URL,
    REVOKED_TOKEN,
    TOKEN,
    WIKI_PUSH_SECRET,
)
from webhooks.incoming.discourse_checks import quick_problem
from webhooks.incoming.discourse_events import READ, is_real_unread

# Generated inputs per operation (per store for the receivers), besides schemathesis's own
# edge cases; an operation without parameters runs out of distinct requests much sooner.
API_EXAMPLES = 150
REFUSED_EXAMPLES = 30
UNSIGNED_EXAMPLES = 50
SIGNED_EXAMPLES = 80
# Hypothesis may stop an operation early (few distinct inputs), hence the margins.
MINIMUM_REQUESTS = {"api": 2_000, "unauthenticated": 300, "unsigned": 150, "signed": 250}
MINIMUM_ACCEPTED = 20  # signed deliveries answered 2xx: the run reached the inbox

SENT: Counter[str] = Counter()  # requests sent by each run
ACCEPTED: Counter[str] = Counter()  # signed deliveries answered 2xx, by receiver

# The receivers live at the root (their path items say so with `servers`); the WSGI
# transport only honours that when given the base URL explicitly.
ROOT = "http://localhost/"
BODY_TYPES = sorted(set(READ.values()))
SIGNATURE_HEADERS = {
    "/webhooks/discourse": ("X-Discourse-Event-Signature", FORUM_SECRET),
    "/webhooks/wiki": ("X-Constellate-Signature", WIKI_PUSH_SECRET),
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
FUZZING = settings(
    deadline=None,
    database=None,  # nothing written into the working tree
    # The service (and its store) is shared by all inputs on purpose.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


class LateApp:
    """A WSGI app handed to schemathesis when the tests are collected; the service behind
    it (and its store) is made by a fixture when they run."""

    target: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.target is None:
            raise RuntimeError("the service fixture has not started the app")
        return self.target(environ, start_response)


APP = LateApp()


def loaded(*modes: GenerationMode) -> Any:
    """The document as served, in a schema object of its own (each run its own config)."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(document()))
    schema.app = APP
    schema.config.generation.update(modes=list(modes))
    return schema


API = loaded(GenerationMode.POSITIVE, GenerationMode.NEGATIVE).exclude(tag="receivers")
# Requests that reach a route: a path that names no resource is a 404 before any check.
UNAUTHENTICATED = loaded(GenerationMode.POSITIVE).exclude(tag="receivers")
UNSIGNED = loaded(GenerationMode.POSITIVE, GenerationMode.NEGATIVE).include(tag="receivers")
SIGNED = loaded(GenerationMode.POSITIVE, GenerationMode.NEGATIVE).include(tag="receivers")


@pytest.fixture
def api(seeded_app: Flask) -> Flask:
    """The seeded service, behind the schemas' app."""
    APP.target = seeded_app
    return seeded_app


@pytest.fixture
def receiving(receiver_app: Flask) -> Flask:
    """A service on an empty store (SQLite, then PostgreSQL), behind the schemas' app."""
    APP.target = receiver_app
    return receiver_app


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def raw_body(case: Any) -> bytes:
    """The bytes schemathesis would send for the generated body (sent explicitly, so the
    test signs exactly them)."""
    sent = case.as_transport_kwargs(base_url=ROOT)
    if "json" in sent:
        return json.dumps(sent["json"]).encode()
    data = sent.get("data", b"")
    return data if isinstance(data, bytes) else str(data).encode()


def parsed(raw: bytes) -> tuple[bool, Any]:
    """Whether ``raw`` is JSON (as the receivers read it), and what it holds."""
    try:
        return True, json.loads(raw)
    except ValueError:
        return False, None


def inbox_size(app: Flask) -> int:
    with get_store(app).session() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent)) or 0


# -- 1. the JSON API with a token ---------------------------------------------------------


@API.parametrize()
@settings(max_examples=API_EXAMPLES, parent=FUZZING)
@pytest.mark.timeout(120)
def test_openapi_every_api_request_with_a_token_is_answered_as_documented(
    case: Any, api: Flask
) -> None:
    SENT["api"] += 1
    # Invalid paging and over-long filters are read leniently (page 1, nothing found), so
    # schemathesis's "invalid input must be refused" check is not asked for here.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[*CHECKS, checks.ignored_auth]
    )


# -- 2. the JSON API without a valid token ------------------------------------------------

CREDENTIALS = st.one_of(
    st.none(),
    st.just(f"Bearer {REVOKED_TOKEN}"),
    st.just(f"Bearer {TOKEN}x"),
    st.just(f"Basic {TOKEN}"),
    st.just(TOKEN),
    st.from_regex(r"\ABearer (cst_)?[A-Za-z0-9_.~+/=-]{0,64}\Z"),
)


@UNAUTHENTICATED.parametrize()
@UNAUTHENTICATED.given(credential=CREDENTIALS)
@settings(max_examples=REFUSED_EXAMPLES, parent=FUZZING)
@pytest.mark.timeout(120)
def test_openapi_every_api_request_without_a_valid_token_is_refused(
    case: Any, credential: str | None, api: Flask
) -> None:
    SENT["unauthenticated"] += 1
    case.headers.pop("Authorization", None)
    headers = {} if credential is None else {"Authorization": credential}
    response = case.call(headers=headers)
    assert response.status_code == 401, response.text
    assert response.json().keys() == {"error"}
    assert response.headers["www-authenticate"] == ['Bearer realm="constellate"']
    case.validate_response(response, checks=CHECKS)


# -- 3. the webhook receivers -------------------------------------------------------------

FORGERIES = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80),
    st.from_regex(r"\Asha256=[0-9a-f]{64}\Z"),
    st.just("wrong-secret"),  # a signature made with another secret
    st.just("other-body"),  # a valid signature of another body
)


@UNSIGNED.parametrize()
@UNSIGNED.given(forgery=FORGERIES)
@settings(max_examples=UNSIGNED_EXAMPLES, parent=FUZZING)
@pytest.mark.timeout(120)
def test_openapi_receivers_refuse_every_unsigned_delivery_and_store_nothing(
    case: Any, forgery: str | None, receiving: Flask
) -> None:
    SENT["unsigned"] += 1
    name, secret = SIGNATURE_HEADERS[case.path]
    raw = raw_body(case)
    case.headers.pop(name, None)
    headers = {"Content-Type": "application/json"}
    if forgery == "wrong-secret":
        headers[name] = sign(secret + "x", raw)
    elif forgery == "other-body":
        headers[name] = sign(secret, raw + b" ")
    elif forgery is not None:
        headers[name] = forgery
    before = inbox_size(receiving)
    response = case.call(base_url=ROOT, headers=headers, data=raw)
    assert response.status_code == 401, response.text
    assert inbox_size(receiving) == before
    case.validate_response(response, checks=CHECKS)


def well_formed_discourse(headers: dict[str, str], is_json: bool, body: Any) -> bool:
    """What the receiver documents as acceptable: this forum, then a ping or an event it
    does not read (their bodies are not read), or a read event whose type matches and
    whose JSON body has the fields the inbox row is made of (the full schema check is the
    worker's: a body failing it becomes a dead event, not a refusal)."""
    if headers.get("X-Discourse-Instance", "").rstrip("/") != FORUM_URL:
        return False
    event = headers.get("X-Discourse-Event", "")
    if event == "ping" or (event not in READ and is_real_unread(event)):
        return True
    if event not in READ or headers.get("X-Discourse-Event-Type") != READ[event]:
        return False
    return is_json and quick_problem(event, body) is None


@st.composite
def aligned_discourse_headers(draw: st.DrawFn, body: Any) -> dict[str, str]:
    """Headers a real forum would send with ``body``, so that signed runs get past the
    instance and event checks as well as being refused by them."""
    headers: dict[str, str] = {}
    instance = draw(st.sampled_from([FORUM_URL, FORUM_URL, FORUM_URL + "/", None]))
    if instance is not None:  # else the generated one, almost surely another forum
        headers["X-Discourse-Instance"] = instance
    if not draw(st.sampled_from([True, True, True, False])):
        return headers  # the generated event name and type
    keys = list(body) if isinstance(body, dict) else []
    types = [key for key in keys if key in BODY_TYPES]
    if "ping" in keys and draw(st.booleans()):
        headers["X-Discourse-Event"] = "ping"
    elif types:
        body_type = draw(st.sampled_from(types))
        headers["X-Discourse-Event"] = draw(
            st.sampled_from([name for name, kind in READ.items() if kind == body_type])
        )
        headers["X-Discourse-Event-Type"] = body_type
    else:
        headers["X-Discourse-Event"] = draw(st.sampled_from(["topic_revised", "user_logged_in"]))
    return headers


@st.composite
def with_a_real_time(draw: st.DrawFn, body: Any) -> Any:
    """``body`` with, sometimes, a wiki timestamp that is a real moment: its schema's
    pattern alone mostly yields dates such as month 47, refused before the inbox."""
    if not isinstance(body, dict) or "timestamp" not in body:
        return body
    if not draw(st.sampled_from([True, True, True, False])):
        return body
    moment = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1)))
    return {**body, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


@SIGNED.parametrize()
@SIGNED.given(data=st.data())
@settings(max_examples=SIGNED_EXAMPLES, parent=FUZZING)
@pytest.mark.timeout(120)
def test_openapi_receivers_accept_a_signed_delivery_only_when_it_is_well_formed(
    case: Any, data: st.DataObject, receiving: Flask
) -> None:
    SENT["signed"] += 1
    name, secret = SIGNATURE_HEADERS[case.path]
    raw = raw_body(case)
    is_json, body = parsed(raw)
    if case.path == "/webhooks/wiki" and is_json:
        real = data.draw(with_a_real_time(body), label="body")
        raw = raw if real is body else json.dumps(real).encode()
        body = real
    headers = {key: str(value) for key, value in case.headers.items()}
    headers |= {"Content-Type": "application/json", name: sign(secret, raw)}
    if case.path == "/webhooks/discourse":
        headers |= data.draw(aligned_discourse_headers(body), label="aligned headers")
    # Sent by hand, so that the headers judged below are exactly the ones sent.
    response = receiving.test_client().post(case.path, data=raw, headers=headers)
    assert response.status_code < 500, response.text
    if case.path == "/webhooks/discourse":
        well_formed = well_formed_discourse(headers, is_json, body)
    else:
        well_formed = is_json and schemas.validator("wiki/change").is_valid(body)
    if 200 <= response.status_code < 300:
        ACCEPTED[case.path] += 1
        assert well_formed, (response.status_code, response.text)
    elif well_formed:
        # What the schemas cannot say (a year 0, an id too long for the inbox's column)
        # is the only reason left to refuse a well-formed delivery.
        assert response.status_code == 400, response.text
        assert "cannot be stored" in response.get_json()["error"]
    case.validate_response(response, checks=CHECKS)


# -- how much was sent ----------------------------------------------------------------------


def test_openapi_fuzzing_sent_a_few_thousand_requests() -> None:
    """Runs last (pytest keeps the file's order): the runs above must all have run."""
    short = {run: SENT[run] for run, least in MINIMUM_REQUESTS.items() if SENT[run] < least}
    assert not short, f"too few requests sent (run the whole module): {short} of {SENT}"
    assert sum(SENT.values()) >= 3_000
    assert all(ACCEPTED[path] >= MINIMUM_ACCEPTED for path in SIGNATURE_HEADERS), ACCEPTED
