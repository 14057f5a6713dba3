"""`constellate sandbox wiki` and `constellate sandbox demo`, run as a person would."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser

from community.bot_section import BEGIN, END
from community.constellations.forum_mirror import external_id
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from sandbox.example_data import EXAMPLE
from sandbox.wiki import free_port
from tests.core.demo_tour import walk_the_tour

CONSTELLATE = [sys.executable, "-m", "service.main"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CONSTELLATE_")}


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; each is stopped (and checked for a clean exit) by the test.
    One a failed test leaves running is killed with everything it started (its own
    process group: the wiki's PHP server, gunicorn, the worker)."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_line(process: subprocess.Popen[str], needle: str, seconds: float = 120) -> list[str]:
    """Read the process's output until a line contains ``needle``."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line.rstrip("\n"))
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never printed; output was:\n" + "\n".join(seen))


def wait_for_inbox(config: Path, subject: str, seconds: float = 60) -> str:
    """The state of the inbox event about ``subject`` once it is processed, as the CLI shows."""
    deadline = time.monotonic() + seconds
    states: list[str] = []
    while time.monotonic() < deadline:
        listed = subprocess.run(
            [*CONSTELLATE, "--config", str(config), "inbox", "list", "--json"],
            env=clean_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        states = [r["state"] for r in rows if r["subject"] == subject]
        if states and states[0] in ("done", "dead", "ignored"):
            return states[0]
        time.sleep(0.5)
    raise AssertionError(f"{subject} not processed in time; states seen: {states}")


def start(args: list[str], started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*CONSTELLATE, *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    started.append(process)
    return process


def test_sandbox_wiki_serves_a_real_mediawiki(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    wiki = start(["sandbox", "wiki", "--dir", str(tmp_path / "wiki"), "--port", str(port)], started)
    wait_for_line(wiki, f"http://127.0.0.1:{port}")
    answer = requests.get(
        f"http://127.0.0.1:{port}/api.php",
        params={"action": "query", "meta": "siteinfo", "format": "json"},
        timeout=10,
    ).json()
    assert answer["query"]["general"]["generator"].startswith("MediaWiki 1.")
    template = requests.get(
        f"http://127.0.0.1:{port}/index.php",
        params={"title": "Template:Constellation", "action": "raw"},
        timeout=10,
    )
    assert template.status_code == 200 and "lead_partner" in template.text
    wiki.send_signal(signal.SIGINT)
    assert wiki.wait(timeout=20) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api.php", timeout=2)


def test_demo_starts_the_wiki_and_a_ready_service(
    tmp_path: Path, started: list[subprocess.Popen[str]], browser: Browser
) -> None:
    wiki_port, forum_port, port = free_port(), free_port(), free_port()
    demo = start(
        [
            "sandbox",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--wiki-port",
            str(wiki_port),
            "--forum-port",
            str(forum_port),
            "--port",
            str(port),
        ],
        started,
    )
    output = wait_for_line(demo, "demo is running")
    assert any(line.startswith(f"wiki:      http://127.0.0.1:{wiki_port}/") for line in output)
    assert any(line.startswith(f"forum:     http://127.0.0.1:{forum_port}/") for line in output)
    seeded = next(line for line in output if line.strip().startswith("forum:") and "posts" in line)
    assert int(seeded.split(" posts")[0].split()[-1]) >= 200
    ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["wiki"]["ok"] is True and "MediaWiki" in checks["wiki"]["detail"]
    assert checks["forum"]["ok"] is True and checks["forum"]["detail"] != "not configured"
    assert any(line.strip().startswith("sync: ") and "created" in line for line in output)
    assert_dashboard_shown(output, tmp_path / "demo", port, forum_port)
    assert_production_shape(demo, output)
    walk_the_tour(browser, output, f"http://127.0.0.1:{port}")
    key = (tmp_path / "demo" / "forum_api_key").read_text().strip()
    forum = ForumClient(
        {"url": f"http://127.0.0.1:{forum_port}", "api_key": key, "api_username": "system"}
    )
    assert_constellations_on_both_sides(wiki_port, forum)
    latest = requests.get(f"http://127.0.0.1:{forum_port}/latest.json", timeout=10).json()
    topics = latest["topic_list"]["topics"]
    assert len(topics) == 30  # a full first page of example topics

    # A person replies in the forum: the signed webhook brings it to the service's inbox.
    # The reply shares the site's one admin API minute with the demo's service, so it is
    # sent by a client that waits out a 429's Retry-After, as any admin API client must.
    reply = forum.acting_as("maren_okafor").reply(
        topics[0]["id"], "Replying in the demo to see it arrive."
    )
    subject = f"post:{reply.id}"
    # The first start's duties may have spoken for the forum's minute: up to two of them.
    config = tmp_path / "demo" / "constellate.toml"
    assert wait_for_inbox(config, subject, seconds=150) == "done"
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(timeout=30) == 0
    for dead in (port, wiki_port, forum_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{dead}/", timeout=2)


def assert_production_shape(demo: subprocess.Popen[str], output: list[str]) -> None:
    """The service runs as in production: gunicorn's web processes and a worker process
    of their own, and nothing warns of a development server."""
    children = subprocess.run(
        ["ps", "-ww", "--ppid", str(demo.pid), "-o", "args="],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert any("gunicorn" in line and "service.wsgi:app" in line for line in children), children
    assert any(re.search(r"/constellate worker --threads=\d", line) for line in children), children
    line = next(line for line in output if line.startswith("service: "))
    assert "gunicorn" in line and "worker process" in line, line
    assert not [line for line in output if "development server" in line.lower()]


def assert_dashboard_shown(output: list[str], demo: Path, port: int, forum_port: int) -> None:
    """The demo says where the dashboard is and whom to log in as, its browser logged in
    and kept a screenshot, and a moderator logging in through the forum sees the example's
    constellations on the overview."""
    screenshot = demo / "dashboard.png"
    line = next(line for line in output if line.startswith("dashboard: "))
    assert line == (
        f"dashboard: http://127.0.0.1:{port}/dashboard/  (log in through the forum as "
        f"moderator; a logged-in screenshot: {screenshot})"
    )
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    browser = requests.Session()
    forum_login = browser.get(
        f"http://127.0.0.1:{forum_port}/session/sandbox-login",
        params={"username": "moderator"},
        timeout=10,
    )
    assert forum_login.status_code == 200, forum_login.text
    overview = browser.get(
        f"http://127.0.0.1:{port}/dashboard/login/start", params={"next": "/dashboard/"}, timeout=10
    )
    assert overview.status_code == 200, overview.text
    assert overview.url == f"http://127.0.0.1:{port}/dashboard/"
    assert [r.status_code for r in overview.history] == [302, 302, 302]  # forum, back, home
    for constellation in EXAMPLE.constellations:
        assert html.escape(constellation.name) in overview.text, constellation.name


def assert_constellations_on_both_sides(wiki_port: int, forum: ForumClient) -> None:
    """Every example constellation: a forum category, a charter topic, the wiki section."""
    wiki = WikiClient({"url": f"http://127.0.0.1:{wiki_port}", "script_path": "/"})
    names = [c.name for c in EXAMPLE.constellations]
    pages = wiki.read_pages(names)
    categories = {c.id: c.name for c in forum.categories()}
    for constellation in EXAMPLE.constellations:
        page = pages[constellation.name]
        assert page.exists and page.pageid is not None
        assert BEGIN in page.text and END in page.text, constellation.name
        topic = forum.topic_by_external_id(external_id(page.pageid))
        assert topic is not None, constellation.name
        assert categories[topic.category_id or 0] == constellation.forum_category


def test_sandbox_forum_prints_how_to_call_it_and_keeps_its_state(
    tmp_path: Path, started: list[subprocess.Popen[str]]
) -> None:
    port, state = free_port(), tmp_path / "forum.json"
    args = ["sandbox", "forum", "--port", str(port), "--state", str(state)]
    forum = start([*args, "--api-key", "sandbox-key-1234"], started)
    output = wait_for_line(forum, "API username:")
    assert output[-3:] == [
        f"Forum sandbox at http://127.0.0.1:{port}",
        "API key: sandbox-key-1234",
        "API username: system",
    ]
    admin = {"Api-Key": "sandbox-key-1234", "Api-Username": "system"}
    made = requests.post(
        f"http://127.0.0.1:{port}/categories.json",
        data={"name": "Kept Across Restarts", "color": "0088CC", "text_color": "FFFFFF"},
        headers=admin,
        timeout=10,
    )
    assert made.status_code == 200, made.text
    refused = requests.get(
        f"http://127.0.0.1:{port}/categories.json",
        headers={"Api-Key": "wrong", "Api-Username": "system"},
        timeout=10,
    )
    assert refused.status_code == 403
    forum.send_signal(signal.SIGINT)
    assert forum.wait(timeout=20) == 0

    again = start(args, started)  # no --api-key: a new one is made and printed
    key = wait_for_line(again, "API key:")[-1].removeprefix("API key: ")
    listed = requests.get(
        f"http://127.0.0.1:{port}/categories.json",
        headers={"Api-Key": key, "Api-Username": "system"},
        timeout=10,
    ).json()
    names = [c["name"] for c in listed["category_list"]["categories"]]
    assert "Kept Across Restarts" in names
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=20) == 0
