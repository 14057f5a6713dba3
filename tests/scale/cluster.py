"""A scaled-out Constellate on this machine for the tests: web processes under gunicorn
and `constellate worker` processes, all on one PostgreSQL store and one Redis queue,
each a real subprocess started from a configuration file as an operator would."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from sandbox.wiki import free_port
from service.server_options import GUNICORN_OPTIONS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "scale-webhook-secret"
SUBSCRIPTION_SECRET = "whsec_" + "c2NhbGUtb3V0LXRlc3Qtc3Vic2NyaXB0aW9uLWtleQ=="


@dataclass(frozen=True)
class ForumAccess:
    url: str
    api_username: str
    api_key: str


def toml_config(store_url: str, queue_url: str, forum: ForumAccess, receiver_url: str) -> str:
    """The forum sandbox; no platform polls, no schedules, no built-in automations (the
    events' own handlers run in full); deliveries to one local receiver."""
    return f"""
[service]
secret_key = "{"k" * 48}"
[store]
url = "{store_url}"
[queue]
url = "{queue_url}"
[forum]
url = "{forum.url}"
api_username = "{forum.api_username}"
api_key = "{forum.api_key}"
timeout = 10
webhook_secret = "{SECRET}"
# Raised, as the session's forum is: this test measures many processes' throughput on
# 10,000 events, not the forum's limit (tests/service/test_forum_budget_processes.py
# holds processes to Discourse's default).
requests_per_minute = 1000000
budget_share = 1
[wiki]
url = "http://127.0.0.1:9"
username = "Bot@constellate"
password = "not-a-real-password"
[worker]
embedded = false
lease_seconds = 10
poll_seconds = 1
wiki_poll_seconds = 0
forum_poll_seconds = 0
[health]
recompute_minutes = 0
[automations]
builtins = []
scan_seconds = 0
[credits]
badges_hours = 0
suggestions_hours = 0
[outgoing]
allow_private_networks = true
[[outgoing.subscriptions]]
url = "{receiver_url}"
secret = "{SUBSCRIPTION_SECRET}"
events = ["forum.*"]
"""


@dataclass
class Receiver:
    """An automation's endpoint: counts every delivery by its webhook-id."""

    server: ThreadingHTTPServer
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with holder[0].lock:
                holder[0].seen[self.headers.get("webhook-id", "")] += 1
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder[0]


def environment(config: Path) -> dict[str, str]:
    return {**os.environ, "CONSTELLATE_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}


def start_web(config: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(workers), *GUNICORN_OPTIONS,
        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10", "--no-control-socket",
        "service.wsgi:app",
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=environment(config), stdout=out, stderr=out)


def start_worker(config: Path, threads: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "service.main", "worker", "--threads", str(threads)]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=environment(config), stdout=out, stderr=out)


def wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a guard against a server that never starts
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web server exited while starting"
        try:
            if requests.get(f"{base_url}/healthz", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise AssertionError("the web server did not start")


REPLY_EVERY = 20  # one event in REPLY_EVERY is a reply (every handler); the rest are likes


def webhook(forum_url: str, topics: list[int], number: int) -> tuple[bytes, dict[str, str]]:
    """Signed Discourse webhook ``number`` in the recorded payloads' shape: a reply
    (``post_created``) by one of a hundred members in one of the forum's ``topics``, or a
    like of one of the replies by another member."""
    reply = number // REPLY_EVERY  # the reply this event is, or the one it likes
    topic = topics[reply % len(topics)]
    author = f"member{reply % 100:03d}"
    post = {
        "id": 100_000 + reply,
        "username": author,
        "name": author,
        "created_at": "2026-11-21T05:40:17.957Z",
        "updated_at": "2026-11-21T05:40:17.957Z",
        "cooked": f"<p>Reply number {reply}, long enough to pass.</p>",
        "raw": f"Reply number {reply}, long enough to pass.",
        "post_number": 2 + reply // len(topics),
        "post_type": 1,
        "reply_to_post_number": 1,
        "topic_id": topic,
        "topic_slug": f"topic-{topic}",
        "topic_title": f"Topic {topic}",
        "topic_archetype": "regular",
        "category_id": 7,
        "category_slug": "general",
        "user_id": 500 + reply % 100,
        "hidden": False,
        "deleted_at": None,
        "user_deleted": False,
        "wiki": False,
        "version": 1,
        "staff": False,
        "admin": False,
        "moderator": False,
        "trust_level": 1,
    }
    if number % REPLY_EVERY == 0:
        body: dict[str, Any] = {"post": post}
        event_type, event = "post", "post_created"
    else:  # a distinct liker for each like of this reply, never its author
        liker = f"liker{number % REPLY_EVERY:03d}"
        body = {
            "like": {"post": post, "user": {"id": 900 + number % REPLY_EVERY, "username": liker}}
        }
        event_type, event = "like", "post_liked"
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Discourse-Instance": forum_url,
        "X-Discourse-Event-Id": str(number + 1),
        "X-Discourse-Event-Type": event_type,
        "X-Discourse-Event": event,
        "X-Discourse-Event-Signature": "sha256="
        + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
    }
    return raw, headers


def stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


__all__ = ["free_port"]
