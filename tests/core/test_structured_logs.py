"""Structured logs: JSON lines carrying the event id (bound by the worker, given by the
webhook receiver), secrets masked in both formats, the text format's ``event=``."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from community.handling import Handler, HandlerContext
from core import logs
from core.clock import current
from core.events import Event
from core.inbox import record
from core.migrate import upgrade
from core.store import get_store
from service.app import create_app
from service.worker import Worker
from tests.clocks import FakeClock, chosen
from tests.webhooks.incoming_support import FORUM_URL, SECRET, load_fixture, wire_body

START = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    """The test's time for the worker and the events recorded directly."""
    yield from chosen(START)


ROOT = Path(__file__).resolve().parents[2]
handler_log = logging.getLogger("community.test_structured_logs")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the service's own handler writes; configure() gives it its format and filters."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.name = logs.HANDLER_NAME
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def json_app(settings: dict[str, Any], log_format: str = "json") -> Flask:
    settings["service"]["log_format"] = log_format
    upgrade(settings["store"]["url"])
    return create_app(settings)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line, each of which must be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def an_event(kind: str = "forum.post_created") -> Event:
    return Event(
        event_id="forum:post_created:4242",
        kind=kind,
        source="forum",
        subject="post:4242",
        actor="alice",
        occurred_at=START,
        delivery_id=None,
        payload={},
    )


def run_worker(app: Flask, handlers: tuple[Handler, ...]) -> None:
    worker = Worker(
        get_store(app),
        app.config["CONSTELLATE"],
        worker_id="w-logs",
        clock=current(),
        sleep=lambda _seconds: None,
        jitter=lambda: 0.0,
        handlers_for=lambda _kind: handlers,
    )
    while worker.run_once():
        pass


def test_lines_about_an_event_carry_its_id(settings: dict[str, Any], captured: io.StringIO) -> None:
    app = json_app(settings)
    password = settings["wiki"]["password"]

    def talkative(event: Event, context: HandlerContext) -> None:
        handler_log.info("handling %s", event.subject)
        handler_log.warning("the wiki refused %s", password)  # a secret must not get out

    with get_store(app).session() as session:
        assert record(session, an_event())
    run_worker(app, (talkative,))
    handler_log.warning("after the event")
    written = lines(captured)
    about = [line for line in written if line.get("event_id") == "forum:post_created:4242"]
    assert [line["message"] for line in about] == [
        "handling post:4242",
        "the wiki refused ********",
        "event forum:post_created:4242 (forum.post_created) done",
    ]
    for line in about:
        assert line["kind"] == "forum.post_created" and line["worker_id"] == "w-logs"
        assert datetime.fromisoformat(line["time"]).utcoffset() == UTC.utcoffset(None)
        assert line["time"].endswith("Z")
    assert about[0]["level"] == "INFO" and about[1]["level"] == "WARNING"
    assert about[0]["logger"] == "community.test_structured_logs"
    assert about[2]["logger"] == "service.worker"
    after = [line for line in written if line["logger"] == handler_log.name][-1]
    assert after["message"] == "after the event" and "event_id" not in after
    assert password not in captured.getvalue()


def test_a_traceback_is_one_masked_field(settings: dict[str, Any], captured: io.StringIO) -> None:
    json_app(settings)
    secret_key = settings["service"]["secret_key"]
    with logs.bound(event_id="wiki:rc:7", kind="wiki.edit"):
        try:
            raise RuntimeError(f"signing with {secret_key} failed")
        except RuntimeError:
            handler_log.exception("could not sign")
    [line] = [line for line in lines(captured) if line["logger"] == handler_log.name]
    assert line["message"] == "could not sign" and line["level"] == "ERROR"
    assert line["event_id"] == "wiki:rc:7"
    assert line["traceback"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: signing with ******** failed" in line["traceback"]
    assert secret_key not in captured.getvalue()


def test_the_receiver_logs_the_delivery_and_event_ids(
    settings: dict[str, Any], captured: io.StringIO
) -> None:
    settings["forum"] = {"url": FORUM_URL, "webhook_secret": SECRET}
    # Each recorded delivery is a DEBUG line (its inbox row is its record; at INFO a
    # forum draining its backlog would write thousands a second), a duplicate an INFO one.
    settings["service"]["log_level"] = "DEBUG"
    client = json_app(settings).test_client()
    data = load_fixture("post__post_created")
    headers, raw = dict(data["headers"]), wire_body(data["body"])
    for expected in (202, 200):  # recorded, then a duplicate
        assert client.post("/webhooks/discourse", data=raw, headers=headers).status_code == expected
    received = [
        line for line in lines(captured) if line["logger"].startswith("constellate.webhooks")
    ]
    assert [line["message"].split()[0] for line in received] == ["recorded", "duplicate"]
    for line in received:
        assert line["delivery_id"] == headers["X-Discourse-Event-Id"]
        assert line["event_id"].startswith("forum:")


def test_text_lines_name_the_event(settings: dict[str, Any], captured: io.StringIO) -> None:
    json_app(settings, log_format="text")
    handler_log.warning("outside")
    with logs.bound(event_id="forum:topic_created:9", worker_id="w1"):
        handler_log.warning("inside with %s", settings["wiki"]["password"])
        with logs.bound(kind="forum.topic_created"):
            handler_log.warning("nested")
    handler_log.warning("outside again")
    written = [line for line in captured.getvalue().splitlines() if handler_log.name in line]
    assert [line.split(": ", 1)[1] for line in written] == [
        "outside",
        "inside with ******** event=forum:topic_created:9",
        "nested event=forum:topic_created:9",
        "outside again",
    ]
    assert " WARNING community.test_structured_logs: " in written[0]


def test_bound_refuses_unknown_fields() -> None:
    refused = r"log fields must be among event_id, .*\['user'\]"
    with pytest.raises(ValueError, match=refused), logs.bound(user="alice"):
        pass
    assert logs.current() == {}


def test_an_unconfigured_process_writes_json_to_stderr(settings: dict[str, Any]) -> None:
    """A command or server with nobody else's logging set-up: the service installs its own
    handler, and with json every line on stderr is an object."""
    program = (
        "import json, logging, sys\n"
        "from core import logs\n"
        "from core.config import load_config\n"
        "logs.configure(load_config(overrides=json.loads(sys.argv[1]), environ={}))\n"
        "logging.getLogger('service.worker').debug('not at the configured level')\n"
        "with logs.bound(event_id='forum:post_created:1'):\n"
        "    logging.getLogger('service.worker').info('working')\n"
    )
    settings["service"]["log_format"] = "json"
    result = subprocess.run(
        [sys.executable, "-c", program, json.dumps(settings)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("CONSTELLATE_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    written = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["message"], line["event_id"]) for line in written] == [
        ("working", "forum:post_created:1")
    ]
