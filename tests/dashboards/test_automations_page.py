"""The Automations page and its API on a real store (SQLite and PostgreSQL) and the forum
sandbox: the rules in force in words, runs the engine recorded with their errors, dry
runs on an event received through the real webhook endpoint or at a moment (which write
nothing), bad dry-run input, and the API answers against the OpenAPI description."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import dashboards.automations  # noqa: F401 (registers the routes before any app is made)
from community.handling import HandlerContext
from core import inbox
from core.models import InboxEvent
from core.store import Store, get_store
from service.tables import metadata
from tests.conftest import SessionForum
from tests.dashboards.support import dashboard_app, login
from tests.dashboards.test_webhooks_page import answered, csp_clean, stored
from webhooks.automations import engine
from webhooks.automations.models import AutomationRun
from webhooks.incoming.discourse_events import normalise

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "discourse"
WEBHOOK_SECRET = "w" * 32
HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
DRY_RUN_RULES = """
rules:
  - name: greet
    description: Thank the author of every post
    trigger: {event: "forum.post_*"}
    actions:
      - reply: {text: "Hello {{author}}, thanks for the note in {{topic_title}}."}
      - tag: {tags: [greeted]}
  - name: tools-only
    trigger: {event: forum.post_created}
    conditions: {text: {contains: [wrench]}}
    actions:
      - tag: {tags: [tools]}
  - name: staff-only
    trigger: {event: forum.post_created}
    conditions: {groups: [staff]}
    actions:
      - webhook: {type: automation.staff_post, data: {post: "{{post_id}}"}}
  - name: gardeners-only
    trigger: {event: forum.post_created}
    conditions: {groups: [gardeners]}
    actions:
      - tag: {tags: [garden]}
  - name: monday
    trigger: {schedule: {cron: "0 9 * * MON"}}
    actions:
      - webhook: {type: automation.weekly, data: {slot: "{{slot}}"}}
"""
RUN_RULES = """
rules:
  - name: broken
    trigger: {event: forum.post_created}
    actions:
      - reply: {topic: "99999999", text: "Into the void, where no topic is"}
  - name: ping
    trigger: {event: forum.post_created}
    actions:
      - webhook: {type: automation.ping, data: {post: "{{post_id}}"}}
"""


def forum_section(forum: SessionForum, **changes: Any) -> dict[str, Any]:
    return {
        "url": forum.url,
        "api_key": forum.api_key,
        "api_username": forum.api_username,
        "webhook_secret": WEBHOOK_SECRET,
        **changes,
    }


def make_app(
    store_url: str,
    tmp_path: Path,
    rules: str,
    forum: dict[str, Any],
    *,
    csrf: bool = False,
    **automations: Any,
) -> Flask:
    path = tmp_path / "rules.yaml"
    path.write_text(rules)
    settings = {
        "rules_file": str(path),
        "builtins": [],
        "time_zone": "Europe/London",
        **automations,
    }
    return dashboard_app(store_url, csrf=csrf, forum=forum, automations=settings)


def logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client)
    return client


def fixture(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return found


def received(app: Flask, forum_url: str) -> InboxEvent:
    """The recorded post_created delivery, sent to the real webhook endpoint and signed."""
    recorded = fixture("post__post_created")
    body = json.dumps(recorded["body"]).encode()
    headers = {
        "X-Discourse-Instance": forum_url,
        "X-Discourse-Event": "post_created",
        "X-Discourse-Event-Type": "post",
        "X-Discourse-Event-Id": "5",
        "X-Discourse-Event-Signature": "sha256="
        + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    answer = app.test_client().post("/webhooks/discourse", data=body, headers=headers)
    assert answer.status_code == 202, answer.text  # recorded, to be processed later
    with get_store(app).session() as session:
        row = session.scalars(select(InboxEvent)).one()
    return row


def row_counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
        }


# -- rules and runs -------------------------------------------------------------------------


def test_the_rules_in_force_are_listed_in_words_with_the_builtins(
    store_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(
        store_url, tmp_path, DRY_RUN_RULES, forum_section(forum), builtins=["newcomer-welcome"]
    )
    client = logged_in(app)
    page = client.get("/dashboard/automations")
    assert page.status_code == 200 and csp_clean(page.text)
    html = page.text
    assert "Thank the author of every post" in html
    assert "event forum.post_*" in html and "schedule (cron 0 9 * * MON)" in html
    assert "text: contains wrench" in html and "groups: staff" in html
    assert "reply — text: Hello {{author}}, thanks for the note in {{topic_title}}." in html
    assert "newcomer-welcome" in html and '<span class="badge">built-in</span>' in html
    assert "Europe/London" in html

    answer = answered(client, "/api/v1/automations/rules")
    by_name = {rule["name"]: rule for rule in answer["rules"]}
    assert list(by_name) == ["newcomer-welcome", *re.findall(r"- name: (\S+)", DRY_RUN_RULES)]
    assert by_name["newcomer-welcome"]["builtin"] is True
    assert by_name["monday"]["trigger"] == {
        "kind": "schedule",
        "options": {"cron": "0 9 * * MON"},
        "summary": "schedule (cron 0 9 * * MON)",
    }
    assert by_name["greet"]["actions"][1] == {
        "kind": "tag",
        "options": {"tags": ["greeted"]},
        "summary": "tag — tags: greeted",
    }
    assert answer["problems"] == []


def test_an_unusable_rules_file_is_explained_and_the_builtins_still_listed(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    broken = "rules:\n  - name: Bad Name\n    trigger: {schedule: {cron: nope}}\n"
    app = make_app(
        sqlite_url, tmp_path, broken, forum_section(forum), builtins=["newcomer-welcome"]
    )
    client = logged_in(app)
    html = client.get("/dashboard/automations").text
    assert "The rules file cannot be used: only the built-in rules run" in html
    assert "/rules/0/name" in html and "missing field &#39;actions&#39;" in html
    assert "newcomer-welcome" in html
    body = answered(client, "/api/v1/automations/rules")
    assert [rule["name"] for rule in body["rules"]] == ["newcomer-welcome"]
    assert body["source"] == "built-in rules" and len(body["problems"]) >= 2


def test_runs_are_listed_with_their_errors_and_filtered(
    store_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(store_url, tmp_path, RUN_RULES, forum_section(forum))
    body = fixture("post__post_created")["body"]
    raw = json.dumps(body).encode()
    event = normalise("post_created", body, raw, delivery_id="5", received=T0)
    settings = app.config["CONSTELLATE"]
    with get_store(app).session() as session:  # the engine, against the forum sandbox
        inbox.record(session, event)
        engine.run_rules(event, HandlerContext(session, settings), now=T0)
    client = logged_in(app)

    html = client.get("/dashboard/automations").text
    assert csp_clean(html)
    assert '<span class="badge bad">failed</span>' in html and "broken" in html
    assert re.search(r"<div class=\"error-text\">reply: [^<]+</div>", html)
    assert '<span class="badge ok">done</span>' in html and "automation.ping" in html
    assert "2026-11-21 09:00:00" in html  # the run's time, from the engine's clock

    failed = client.get("/dashboard/automations?failed=1").text
    assert "/dashboard/automations?rule=broken" in failed
    assert "/dashboard/automations?rule=ping" not in failed.split("Recent runs")[1]
    only_ping = client.get("/dashboard/automations?rule=ping").text.split("Recent runs")[1]
    assert "automation.ping" in only_ping and "Into the void" not in only_ping

    [run] = answered(client, "/api/v1/automations/runs?failed=1")["runs"]
    assert (run["rule"], run["state"], run["event_id"]) == ("broken", "failed", event.event_id)
    assert run["actions"][0]["result"] == "failed" and run["error"].startswith("reply: ")
    assert run["started_at"] == T0.isoformat()

    # A dry run of the same event says what already ran and what a retry would redo.
    report = client.post("/dashboard/automations/dry-run", data={"event_id": event.event_id})
    assert report.status_code == 200
    ran = "Already ran on this event ({}, 2026-11-21 09:00 UTC): {}."
    assert ran.format("failed", "a retry of the event runs it again") in report.text
    assert ran.format("done", "the service will not run it on this event again") in report.text


def test_runs_are_paginated_newest_first(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(sqlite_url, tmp_path, RUN_RULES, forum_section(forum))
    with get_store(app).session() as session:
        for number in range(51):
            session.add(
                AutomationRun(
                    rule="ping",
                    event_id=f"forum:post_created:{number}",
                    event_kind="forum.post_created",
                    subject=HOSTILE if number == 50 else f"post:{number}",
                    state="done",
                    actions=[
                        {
                            "kind": "webhook",
                            "description": "webhook automation.ping",
                            "result": "done",
                        }
                    ],
                    started_at=T0 + timedelta(minutes=number),
                    finished_at=T0 + timedelta(minutes=number),
                )
            )
    client = logged_in(app)
    first = answered(client, "/api/v1/automations/runs")
    assert first["next_page"] == 2 and len(first["runs"]) == 50
    assert first["runs"][0]["subject"] == HOSTILE
    second = answered(client, "/api/v1/automations/runs?page=2")
    assert second["next_page"] is None
    assert [run["event_id"] for run in second["runs"]] == ["forum:post_created:0"]

    html = client.get("/dashboard/automations").text
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="/dashboard/automations?page=2"' in html
    older = client.get("/dashboard/automations?page=2").text
    assert "forum:post_created:0" in older and 'href="/dashboard/automations?page=1"' in older


# -- dry runs -------------------------------------------------------------------------------


def test_a_dry_run_of_a_stored_event_shows_the_planned_actions_and_writes_nothing(
    store_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(
        store_url, tmp_path, DRY_RUN_RULES, forum_section(forum), builtins=["newcomer-welcome"]
    )
    row = received(app, forum.url)
    client = logged_in(app)
    page = client.get("/dashboard/automations").text
    assert f'<option value="{row.id}">#{row.id} forum.post_created · post:2' in page

    before = row_counts(get_store(app))
    answer = client.post("/dashboard/automations/dry-run", data={"event": str(row.id)})
    assert answer.status_code == 200 and csp_clean(answer.text)
    assert row_counts(get_store(app)) == before  # nothing done, nothing recorded
    html = answer.text
    report = {
        name: html.split(f"<strong>{name}</strong>", 1)[1].split("</li>\n    \n", 1)[0]
        for name in ("greet", "tools-only", "staff-only", "gardeners-only", "newcomer-welcome")
    }
    assert "would do 2 actions" in report["greet"]
    reply = "reply in topic 1 “Captured topic for fixtures here”: Hello system, thanks for"
    assert reply in report["greet"] and "+greeted" in report["greet"]
    assert "would not act" in report["tools-only"] and "text:" in report["tools-only"]
    # Groups are known only to the forum, which a page never asks (the command line does).
    assert "would not act" in report["staff-only"] and "groups:" in report["staff-only"]
    assert "would not act" in report["gardeners-only"] and "groups:" in report["gardeners-only"]
    assert "would not act" in report["newcomer-welcome"]  # trust level 4: no newcomer
    assert "monday" not in html  # its trigger does not match

    by_event_id = client.post("/dashboard/automations/dry-run", data={"event_id": row.event_id})
    assert by_event_id.status_code == 200 and "would do 2 actions" in by_event_id.text
    assert row_counts(get_store(app)) == before


def test_a_dry_run_at_a_moment_fires_that_minutes_schedules(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(sqlite_url, tmp_path, DRY_RUN_RULES, forum_section(forum))
    client = logged_in(app)
    before = row_counts(get_store(app))
    # 09:00 in London on a Monday in summer is 08:00 UTC.
    summer = client.post("/dashboard/automations/dry-run", data={"at": "2026-06-22T09:00"})
    assert summer.status_code == 200
    assert "<strong>monday</strong>" in summer.text and "automation.weekly" in summer.text
    assert "would do 1 action<" in summer.text
    utc = client.post("/dashboard/automations/dry-run", data={"at": "2026-06-22T08:00+00:00"})
    assert "<strong>monday</strong>" in utc.text
    off = client.post("/dashboard/automations/dry-run", data={"at": "2026-06-22T08:00"})
    assert off.status_code == 200 and "Nothing is due at 2026-06-22 07:00 UTC" in off.text
    assert row_counts(get_store(app)) == before


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"event_id": "forum:post_created:404"},
            "No stored event has the id “forum:post_created:404”.",
        ),
        ({"event": "999999"}, "No stored event has the id “999999”."),
        ({"event_id": "99999999999"}, "No stored event has the id “99999999999”."),
        ({"at": "next monday"}, "“next monday” is not a time"),
        ({"at": "0001-01-01T00:00"}, "“0001-01-01T00:00” is not a time"),
        ({}, "Choose a stored event or a time, one of the two."),
        (
            {"event": "1", "at": "2026-06-22T09:00"},
            "Choose a stored event or a time, one of the two.",
        ),
    ],
)
def test_bad_dry_run_input_answers_400_with_the_reason(
    sqlite_url: str, tmp_path: Path, forum: SessionForum, form: dict[str, str], message: str
) -> None:
    app = make_app(sqlite_url, tmp_path, DRY_RUN_RULES, forum_section(forum))
    client = logged_in(app)
    answer = client.post("/dashboard/automations/dry-run", data=form)
    assert answer.status_code == 400
    assert f'<p class="flash error" role="alert">{message}' in answer.text
    assert "Rules in force" in answer.text  # the page itself, with the form to try again
    if "event_id" in form:  # what was typed is kept, to be mended
        assert f'name="event_id" type="text" maxlength="200" value="{form["event_id"]}"' in (
            answer.text
        )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_dry_run_answers_from_the_store_even_when_the_forum_is_unreachable(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    away = f"http://127.0.0.1:{closed_port()}"
    app = make_app(sqlite_url, tmp_path, DRY_RUN_RULES, forum_section(forum, url=away))
    row = received(app, away)
    client = logged_in(app)
    before = row_counts(get_store(app))
    answer = client.post("/dashboard/automations/dry-run", data={"event": str(row.id)})
    assert answer.status_code == 200
    assert "would do 2 actions" in answer.text  # greet: its facts are in the stored event
    assert "groups: not known for this event" in answer.text  # staff-only, gardeners-only
    assert row_counts(get_store(app)) == before


def test_the_event_list_offers_the_newest_stored_events(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(sqlite_url, tmp_path, DRY_RUN_RULES, forum_section(forum))
    with get_store(app).session() as session:
        for number in range(35):
            subject = HOSTILE if number == 34 else f"page:Page {number}"
            inbox.record(session, stored("wiki.edit", number, subject, {"title": "Page"}))
    html = logged_in(app).get("/dashboard/automations").text
    options = re.findall(r'<option value="(\d+)"', html)
    assert len(options) == 30 and options[0] == "35" and options[-1] == "6"
    assert HOSTILE not in html and "&lt;script&gt;" in html


def test_the_dry_run_forms_carry_a_csrf_token_and_need_it(
    sqlite_url: str, tmp_path: Path, forum: SessionForum
) -> None:
    app = make_app(sqlite_url, tmp_path, DRY_RUN_RULES, forum_section(forum), csrf=True)
    client = logged_in(app)
    html = client.get("/dashboard/automations").text
    forms = html.split('action="/dashboard/automations/dry-run"')[1:]
    assert len(forms) == 2
    tokens = [re.search(r'name="csrf_token" value="([^"]+)"', form) for form in forms]
    assert all(tokens), "a dry-run form has no CSRF token"
    moment = {"at": "2026-06-22T09:00"}
    missing = client.post("/dashboard/automations/dry-run", data=moment)
    assert missing.status_code == 400 and "CSRF token is missing" in missing.text
    token = tokens[1].group(1) if tokens[1] else ""
    signed = client.post("/dashboard/automations/dry-run", data={**moment, "csrf_token": token})
    assert signed.status_code == 200 and "<strong>monday</strong>" in signed.text
