"""The Webhooks page and its API on a real store (SQLite and PostgreSQL): the inbox with
its states and errors and a Retry that requeues a failed event; requests refused at the
real webhook endpoint, with why; outgoing messages delivered to a real HTTP receiver,
with their attempts and a Replay that keeps them; and the API answers against the
OpenAPI description."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import func, select

import dashboards.webhooks_log  # noqa: F401 (registers the routes before any app is made)
from community.handling import HandlerContext
from core import inbox
from core.clock import of_app
from core.events import Event
from core.models import InboxEvent
from core.store import Store, get_store
from dashboards.openapi import response_schema
from service.worker import Worker
from tests.clocks import FakeClock, chosen
from tests.dashboards.support import dashboard_app, login
from tests.webhooks.outgoing_support import SECRET, Receiver, running_receiver
from tests.webhooks.outgoing_support import event as forum_event
from webhooks.incoming.refusal_model import IncomingRefusal
from webhooks.outgoing import delivery
from webhooks.outgoing.delivery import Courier, deliver_due
from webhooks.outgoing.models import DeliveryAttempt, OutgoingMessage
from webhooks.outgoing.queue import fan_out

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discourse"
FORUM_URL = "https://forum.example.org"
WEBHOOK_SECRET = "w" * 32
HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # the app's clock, and outgoing deliveries' start
COURIER = Courier(rng=random.Random(7))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running_receiver()


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    yield from chosen(T0)


@pytest.fixture
def app(store_url: str, receiver: Receiver, clock: FakeClock) -> Flask:
    # The receiver's token sits in the query, where real receivers keep theirs.
    subscription = {"url": f"{receiver.url}?token=hush", "secret": SECRET, "events": ["forum.*"]}
    return dashboard_app(
        store_url,
        clock=clock,
        forum={"url": FORUM_URL, "webhook_secret": WEBHOOK_SECRET},
        outgoing={"allow_private_networks": True, "subscriptions": [subscription]},
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    made = app.test_client()
    login(made)
    return made


def store_of(app: Flask) -> Store:
    return get_store(app)


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash (?:ok|error)" role="status">([^<]*)</p>', html)


def csp_clean(html: str) -> bool:
    """Nothing the Content-Security-Policy would block: inline scripts, styles, handlers."""
    return not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", html, re.IGNORECASE)


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_time(value: object) -> bool:
    """RFC 3339 as the API writes it (jsonschema checks it only with an extra package)."""
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def answered(client: FlaskClient, url: str, status: int = 200) -> dict[str, Any]:
    """The API's answer at ``url``, checked against its OpenAPI response schema."""
    response = client.get(url)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.get_json()
    path = url.removeprefix("/api/v1").split("?", 1)[0]
    Draft202012Validator(response_schema(path, status=status), format_checker=FORMATS).validate(
        body
    )
    return body


# -- incoming -------------------------------------------------------------------------------


def stored(kind: str, number: int, subject: str, payload: dict[str, Any]) -> Event:
    return Event(
        event_id=f"test:{kind}:{number}",
        kind=kind,
        source=kind.split(".", 1)[0],
        subject=subject,
        actor="alice",
        occurred_at=T0,
        delivery_id=None,
        payload=payload,
    )


def fixture_event(name: str, number: int) -> Event:
    body = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))["body"]
    return stored(f"forum.{name.split('__')[1]}", number, f"post:{body['post']['id']}", body)


def broken_handler(event: Event, context: HandlerContext) -> None:
    raise RuntimeError("the wiki said no")


def work_once(app: Flask) -> None:
    """The real worker takes one event; forum.post_edited's handler is made to fail."""

    def handlers_for(kind: str) -> tuple[Any, ...]:
        from service import dispatch

        return (broken_handler,) if kind == "forum.post_edited" else dispatch.handlers_for(kind)

    # A day ahead of the app's clock: a failure's next try is then surely still to come.
    ahead = of_app(app)() + timedelta(days=1)
    config = app.config["CONSTELLATE"]
    worker = Worker(store_of(app), config, handlers_for=handlers_for, clock=lambda: ahead)
    held = worker.claim()
    assert held is not None
    worker.process(held)


def inbox_rows(app: Flask) -> dict[str, InboxEvent]:
    with store_of(app).session() as session:
        return {row.kind: row for row in session.scalars(select(InboxEvent))}


def test_the_inbox_lists_states_and_errors_and_retries_a_failed_event(
    app: Flask, client: FlaskClient
) -> None:
    with store_of(app).session() as session:
        inbox.record(session, stored("forum.post_exploded", 1, "post:1", {"post": {"id": 1}}))
        inbox.record(session, fixture_event("post__post_edited", 2))
    work_once(app)  # unknown kind: dead at once
    work_once(app)  # the handler fails: pending again, with its error
    with store_of(app).session() as session:  # untouched by the worker
        inbox.record(session, stored("wiki.edit", 3, f"page:{HOSTILE}", {"title": HOSTILE}))
    rows = inbox_rows(app)
    dead, failing, waiting = (
        rows["forum.post_exploded"],
        rows["forum.post_edited"],
        rows["wiki.edit"],
    )
    assert dead.state == "dead" and failing.state == "pending"

    page = client.get("/dashboard/webhooks")
    assert page.status_code == 200 and csp_clean(page.text)
    html = page.text
    assert HOSTILE not in html and "page:&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "unknown kind: forum.post_exploded" in html  # why it is dead
    assert "RuntimeError: the wiki said no" in html  # the last error
    retry = "/dashboard/webhooks/incoming/{}/retry"
    assert retry.format(dead.id) in html and retry.format(failing.id) in html
    assert retry.format(waiting.id) not in html  # nothing failed: nothing to retry

    only_dead = client.get("/dashboard/webhooks?show=incoming&state=dead").text
    assert "forum.post_exploded" in only_dead and "forum.post_edited" not in only_dead

    answer = client.post(retry.format(dead.id), data={"state": "dead", "page": "1"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/dashboard/webhooks?show=incoming&state=dead"
    again = inbox_rows(app)["forum.post_exploded"]
    assert (again.state, again.attempts, again.reason) == ("pending", 0, None)
    assert flashes(client.get(answer.headers["Location"]).text) == [
        f"Inbox event {dead.id} (forum.post_exploded) is pending again; a worker will take it."
    ]

    assert client.post(retry.format(failing.id)).status_code == 303  # now, not after backoff
    assert inbox_rows(app)["forum.post_edited"].attempts == 0
    after = client.get("/dashboard/webhooks").text
    assert retry.format(dead.id) not in after and retry.format(failing.id) not in after

    refused = client.post(retry.format(waiting.id))
    assert refused.status_code == 303
    [message] = flashes(client.get(refused.headers["Location"]).text)
    assert message.startswith("Not retried:") and "has not failed" in message
    assert inbox_rows(app)["wiki.edit"].attempts == 0

    missing = client.post(retry.format(999_999))
    assert missing.status_code == 303
    assert "no inbox event with id 999999" in client.get(missing.headers["Location"]).text
    assert client.post(retry.format(2**31)).status_code == 404  # no row id is that large


def test_the_incoming_api_pages_filters_and_matches_its_schema(
    app: Flask, client: FlaskClient
) -> None:
    with store_of(app).session() as session:
        for number in range(51):
            subject = HOSTILE if number == 50 else f"post:{number}"
            inbox.record(session, stored("forum.post_created", number, subject, {"n": number}))
    first = answered(client, "/api/v1/webhooks/incoming")
    assert first["next_page"] == 2 and len(first["events"]) == 50
    assert first["events"][0]["subject"] == HOSTILE  # newest first, as it was sent
    second = answered(client, "/api/v1/webhooks/incoming?page=2")
    assert second["next_page"] is None
    assert [event["subject"] for event in second["events"]] == ["post:0"]
    assert answered(client, "/api/v1/webhooks/incoming?state=dead")["events"] == []
    bad = answered(client, "/api/v1/webhooks/incoming?state=lost", status=400)
    assert bad["error"].startswith("unknown state 'lost'")

    page_two = client.get("/dashboard/webhooks?page=2").text
    assert "post:0" in page_two and "post:1<" not in page_two
    assert 'href="/dashboard/webhooks?show=incoming&amp;page=1"' in page_two


# -- refused --------------------------------------------------------------------------------


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_a_refused_delivery_shows_why_with_its_markup_escaped(
    app: Flask, client: FlaskClient
) -> None:
    recorded = json.loads((FIXTURES / "post__post_created.json").read_text("utf-8"))
    body = json.dumps(recorded["body"]).encode()
    dropped = ("Content-Length", "Host", "Connection")  # the test client sets its own
    headers = {k: v for k, v in recorded["headers"].items() if k not in dropped}
    headers["X-Discourse-Instance"] = FORUM_URL
    sender = app.test_client()
    unsigned = sender.post(
        "/webhooks/discourse",
        data=body,
        headers={**headers, "X-Discourse-Event": HOSTILE, "X-Discourse-Event-Id": "77"},
    )
    assert unsigned.status_code == 401
    unknown = sender.post(
        "/webhooks/discourse",
        data=body,
        headers={
            **headers,
            "X-Discourse-Event": HOSTILE,
            "X-Discourse-Event-Signature": signed(body),
        },
    )
    assert unknown.status_code == 400

    html = client.get("/dashboard/webhooks?show=refused").text
    assert csp_clean(html)
    assert "missing or wrong X-Discourse-Event-Signature" in html
    assert "unknown X-Discourse-Event &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;" in html
    assert "delivery 77" in html and f"{len(body)} bytes" in html
    assert hashlib.sha256(body).hexdigest()[:12] in html

    newest, oldest = answered(client, "/api/v1/webhooks/refused")["refusals"]
    assert (newest["status"], oldest["status"]) == (400, 401)
    assert oldest["event_name"] == HOSTILE and oldest["delivery_id"] == "77"
    assert oldest["body_sha256"] == hashlib.sha256(body).hexdigest()
    with store_of(app).session() as session:
        assert session.scalar(select(func.count()).select_from(IncomingRefusal)) == 2


# -- outgoing -------------------------------------------------------------------------------


def queue_and_fail(app: Flask, receiver: Receiver, start: datetime) -> datetime:
    """The receiver answers 500 to every attempt until the message is failed; returns the
    fake clock's time at the end."""
    store, settings = store_of(app), app.config["CONSTELLATE"]
    receiver.script = [(500, {})] * delivery.MAX_ATTEMPTS
    now = start
    for _ in range(delivery.MAX_ATTEMPTS):
        assert deliver_due(store, settings, now=now, courier=COURIER) == 1
        now = the_message(app).next_attempt_at
    assert the_message(app).state == "failed"
    return now


def the_message(app: Flask) -> OutgoingMessage:
    with store_of(app).session() as session:
        found = session.scalars(select(OutgoingMessage)).one()
    return found


def attempt_count(app: Flask) -> int:
    with store_of(app).session() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryAttempt)) or 0)


def test_a_failed_outgoing_message_is_replayed_with_its_attempts_kept(
    app: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    with store_of(app).session() as session:
        assert fan_out(session, forum_event(1), app.config["CONSTELLATE"], now=T0) == 1
    now = queue_and_fail(app, receiver, T0)
    failed = the_message(app)

    html = client.get("/dashboard/webhooks?show=outgoing").text
    assert csp_clean(html)
    assert f'href="{receiver.url}"' in html and "hush" not in html  # no token shown
    assert html.count('<span class="badge bad">500</span>') == delivery.MAX_ATTEMPTS
    assert '<div class="error-text">HTTP 500</div>' in html  # the last error
    assert failed.msg_id in html and "forum.post_created" in html
    replay = f"/dashboard/webhooks/outgoing/{failed.id}/replay"
    assert f'action="{replay}"' in html

    answer = client.post(replay, data={"state": "failed"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/dashboard/webhooks?show=outgoing&state=failed"
    again = the_message(app)
    assert (again.state, again.attempts, again.msg_id) == ("pending", 0, failed.msg_id)
    assert attempt_count(app) == delivery.MAX_ATTEMPTS  # the record of tries is kept
    [said] = flashes(client.get(answer.headers["Location"]).text)
    assert said.startswith(f"Outgoing message {failed.id} is pending again")
    assert "earlier attempts are kept" in said

    twice = client.post(replay)
    [refused] = flashes(client.get(twice.headers["Location"]).text)
    assert "was not replayed" in refused and the_message(app).state == "pending"

    # The replayed message goes out under its old webhook-id and is delivered.
    assert deliver_due(store_of(app), app.config["CONSTELLATE"], now=now, courier=COURIER) == 1
    assert the_message(app).state == "delivered"
    assert {sent.headers["webhook-id"] for sent in receiver.received} == {failed.msg_id}
    delivered = client.get("/dashboard/webhooks?show=outgoing&state=delivered").text
    assert "delivered" in delivered and f'action="{replay}"' in delivered  # may be sent again


def test_the_outgoing_api_lists_the_newest_attempts_and_counts_the_rest(
    app: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    with store_of(app).session() as session:
        fan_out(session, forum_event(1), app.config["CONSTELLATE"], now=T0)
    now = queue_and_fail(app, receiver, T0)
    message_id = the_message(app).id
    with store_of(app).session() as session:
        assert delivery.replay(session, message_id, now=now)
    queue_and_fail(app, receiver, now)
    total = 2 * delivery.MAX_ATTEMPTS

    [message] = answered(client, "/api/v1/webhooks/outgoing?state=failed")["messages"]
    shown = message["delivery_attempts"]
    assert len(shown) == 10 and message["earlier_attempts"] == total - 10
    times = [attempt["attempted_at"] for attempt in shown]
    assert times == sorted(times, reverse=True)  # newest first
    assert {attempt["status"] for attempt in shown} == {500}
    assert message["subscription"]["url"] == receiver.url  # without ?token=
    assert message["replayable"] is True and message["attempts"] == delivery.MAX_ATTEMPTS
    assert answered(client, "/api/v1/webhooks/outgoing?state=pending")["messages"] == []
    answered(client, "/api/v1/webhooks/outgoing?state=sent", status=400)

    html = client.get("/dashboard/webhooks?show=outgoing").text
    assert f"and {total - 10} earlier" in html


def test_retry_and_replay_carry_a_csrf_token_and_need_it(
    sqlite_url: str, receiver: Receiver
) -> None:
    subscription = {"url": receiver.url, "secret": SECRET, "events": ["forum.*"]}
    app = dashboard_app(
        sqlite_url,
        csrf=True,
        outgoing={"allow_private_networks": True, "subscriptions": [subscription]},
    )
    with store_of(app).session() as session:
        inbox.record(session, stored("forum.post_exploded", 1, "post:1", {"post": {"id": 1}}))
        fan_out(session, forum_event(1), app.config["CONSTELLATE"], now=T0)
    work_once(app)
    queue_and_fail(app, receiver, T0)
    client = app.test_client()
    login(client)
    for show, action in (
        (
            "incoming",
            f"/dashboard/webhooks/incoming/{inbox_rows(app)['forum.post_exploded'].id}/retry",
        ),
        ("outgoing", f"/dashboard/webhooks/outgoing/{the_message(app).id}/replay"),
    ):
        html = client.get(f"/dashboard/webhooks?show={show}").text
        form = html.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None, "the button's form has no CSRF token"
        assert client.post(action).status_code == 400
        assert client.post(action, data={"csrf_token": token.group(1)}).status_code == 303
    assert inbox_rows(app)["forum.post_exploded"].state == "pending"
    assert the_message(app).state == "pending"
