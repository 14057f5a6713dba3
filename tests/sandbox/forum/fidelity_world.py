"""A fresh forum sandbox driven over HTTP the way the fidelity tests need it.

Acts as any user through the API key, creates posts shaped like a recorded one (same post
number, reply target and archetype) and collects what the webhook receivers got.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import requests

from sandbox.forum import webhooks
from sandbox.forum.scoring import calculate_scores
from sandbox.forum.server import ForumServer
from tests.conftest import UNTHROTTLED
from tests.sandbox.forum.receivers import Received, Receiver

# The secret of Discourse's web_hook fabricator: the ping spec's signature was made with it.
SPEC_SECRET = "my_lovely_secret_for_web_hook"
TAGS = ("fidelity", "sandbox")
DEFAULT_RAW = "A post written for the fidelity test, long enough for the forum's rules."


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


class World:
    """The forum, three members and two wildcard hooks (one signed, one without secret)."""

    def __init__(self, server: ForumServer, signed: Receiver, unsigned: Receiver) -> None:
        self.server = server
        self.signed = signed
        self.unsigned = unsigned
        self.alice = self.new_user("alice")
        self.bob = self.new_user("bob")
        self.carol = self.new_user("carol")
        # Tags exist before members use them (only staff may create tags).
        self.topic("system", tags=list(TAGS))
        self.signed_hook = self.hook(signed.url, secret=SPEC_SECRET)
        self.unsigned_hook = self.hook(unsigned.url)

    # ---- HTTP ---------------------------------------------------------------------------

    def call(self, method: str, path: str, user: str = "system", **kwargs: Any) -> Any:
        headers = {"Api-Key": self.server.api_key, "Api-Username": user}
        response = requests.request(
            method, self.server.url + path, headers=headers, timeout=10, **kwargs
        )
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def new_user(self, prefix: str) -> str:
        username = unique(prefix)
        self.call(
            "POST",
            "/users.json",
            data={
                "username": username,
                "email": f"{username}@example.org",
                "password": uuid.uuid4().hex,
                "name": prefix.title() + " Example",
                "active": "true",
                "approved": "true",
            },
        )
        return username

    def hook(self, url: str, secret: str = "") -> int:
        form = {
            "web_hook[payload_url]": url,
            "web_hook[active]": "true",
            "web_hook[wildcard_web_hook]": "true",
            "web_hook[secret]": secret,
        }
        return int(self.call("POST", "/admin/api/web_hooks.json", data=form)["web_hook"]["id"])

    # ---- making content -----------------------------------------------------------------

    def topic(
        self, author: str, *, private: bool = False, tags: list[str] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"title": unique("Fidelity topic "), "raw": DEFAULT_RAW}
        if tags:
            data["tags[]"] = tags
        if private:
            others = [u for u in (self.alice, self.bob, self.carol) if u != author]
            data |= {"archetype": "private_message", "target_recipients": ",".join(others)}
        created: dict[str, Any] = self.call("POST", "/posts.json", user=author, data=data)
        return created

    def reply(self, author: str, topic_id: int, reply_to: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"topic_id": topic_id, "raw": f"{DEFAULT_RAW} {unique('')}"}
        if reply_to:
            data["reply_to_post_number"] = reply_to
        created: dict[str, Any] = self.call("POST", "/posts.json", user=author, data=data)
        return created

    def post_like(self, recorded: dict[str, Any], author: str | None = None) -> dict[str, Any]:
        """A post with the recorded post's number, reply target and archetype, by ``author``
        (alice), in a topic bob started."""
        author = author or self.alice
        number = int(recorded["post_number"])
        private = recorded.get("topic_archetype") == "private_message"
        if number == 1:
            post = self.topic(author, private=private)
        else:
            first = self.topic(self.bob, private=private)
            for position in range(2, number):
                self.reply(self.carol if position % 2 else self.bob, first["topic_id"])
            post = self.reply(author, first["topic_id"], recorded.get("reply_to_post_number"))
        if isinstance(recorded.get("score"), float):
            self.run_score_job()
        return post

    def run_score_job(self) -> None:
        """The recorded post was older than a run of Discourse's score job: run it here too."""
        forum = self.server.forum
        assert forum is not None
        with forum.lock:
            calculate_scores(forum)

    # ---- deliveries ---------------------------------------------------------------------

    def mark(self) -> tuple[int, int]:
        self.drain()
        return len(self.signed.requests), len(self.unsigned.requests)

    def drain(self) -> None:
        assert webhooks.drain(self.server.forum, timeout=15)

    def delivered(
        self,
        since: tuple[int, int],
        event: str,
        *,
        signed: bool = True,
        where: Callable[[Any], bool] = lambda payload: True,
    ) -> Received:
        """The one delivery of ``event`` since ``since`` whose payload satisfies ``where``."""
        self.drain()
        receiver, start = (self.signed, since[0]) if signed else (self.unsigned, since[1])
        found = [
            r
            for r in receiver.requests[start:]
            if r.event == event and where(r.json[r.headers["x-discourse-event-type"]])
        ]
        assert len(found) == 1, f"{len(found)} deliveries of {event}"
        return found[0]


def running_world() -> Iterator[World]:
    """For a module's fixture: the world on a forum of its own, with its two receivers."""
    with (
        ForumServer(rate_limit_per_minute=UNTHROTTLED) as server,
        Receiver() as signed,
        Receiver() as unsigned,
    ):
        yield World(server, signed, unsigned)
