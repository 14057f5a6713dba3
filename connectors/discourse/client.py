"""The forum connector: topics and posts through pydiscourse, with errors translated.

Every call goes through a ``BudgetedDiscourseClient`` (pydiscourse with our request step:
a timeout always, 429 waits within a budget, counts by status) and leaves through
``translated()``, so callers only ever see ``core.errors`` types. Administration
(categories, tags, users, groups, badges, settings) lives in ``admin.py``.

Retries: a read lost on the way (reset, timeout, cut-off body, 5xx) is sent again a couple
of times by the transport, and the worker retries the event on ``Unavailable``. Of the
writes this client retries only topic creation itself, because only there it can first
check (by ``external_id``) whether an ambiguous attempt went through.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import requests

from connectors.discourse.admin import ForumAdmin
from connectors.discourse.errors import PLATFORM, translated
from connectors.discourse.records import (
    CreatedTopic,
    Post,
    Topic,
    format_time,
    post_from,
    topic_from,
)
from connectors.discourse.transport import BudgetedDiscourseClient, ForumSession
from core.errors import ConnectorError, InvalidRequest, NotFound, Unavailable

# Discourse's Topic model: external_id ≤ 50 characters of [\w-] (ASCII word characters).
EXTERNAL_ID = re.compile(r"[\w-]{1,50}", re.ASCII)
TOPIC_CHUNK = 20  # posts per /t/{id}.json page and per posts.json?post_ids[] fetch
CREATE_ATTEMPTS = 3
DEFAULT_WAIT_BUDGET = 120.0
TOPIC_STATUSES = {"closed", "pinned", "pinned_globally", "archived", "visible"}
LIKE_ACTION = 1  # UserAction::LIKE: the likes a user gave


class ForumClient(ForumAdmin):
    """One API key acting as one user on one Discourse forum. No network until a call."""

    def __init__(
        self,
        cfg: Mapping[str, Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        request_counts: Counter[int] | None = None,
    ) -> None:
        self._cfg = dict(cfg)
        self.request_counts: Counter[int] = (
            request_counts if request_counts is not None else Counter()
        )
        if session is None:
            session = ForumSession()
            session.hooks["response"].append(self._observe)
        self.session = session
        self._dc = BudgetedDiscourseClient(
            str(cfg["url"]),
            str(cfg["api_username"]),
            str(cfg["api_key"]),
            # pydiscourse has no timeout by default; a stalled forum must never block us.
            timeout=float(cfg.get("timeout") or 30),
            session=session,
            sleep=sleep,
            wait_budget=float(cfg.get("rate_limit_wait_budget", DEFAULT_WAIT_BUDGET)),
        )

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.request_counts[response.status_code] += 1

    @property
    def username(self) -> str:
        return str(self._dc.api_username)

    def acting_as(self, username: str) -> ForumClient:
        """The same key acting as ``username`` (an all-users admin key may act as anyone).

        Shares the session, the request counts and the sleep, as it shares the forum's
        one admin rate bucket.
        """
        return ForumClient(
            {**self._cfg, "api_username": username},
            sleep=self._dc.sleep,
            session=self.session,
            request_counts=self.request_counts,
        )

    def ping(self) -> dict[str, Any]:
        """The forum's /about.json: proves it answers and accepts our key."""
        with translated():
            about: dict[str, Any] = self._dc.about()
        return about

    # -- topics --------------------------------------------------------------------------

    def create_topic(
        self,
        title: str,
        raw: str,
        *,
        category_id: int | None,
        external_id: str,
        tags: Iterable[str] = (),
        created_at: Any = None,
    ) -> CreatedTopic:
        """Create the topic keyed by ``external_id`` exactly once.

        Looks it up first; after an ambiguous failure (timeout, 5xx, a 422 about the
        external id) looks again before another attempt, so a retried call never makes
        a second topic. Raises InvalidRequest for an unusable id or a refused topic.
        """
        check_external_id(external_id)
        fields: dict[str, Any] = {"external_id": external_id}
        tag_list = list(tags)
        if tag_list:
            fields["tags[]"] = tag_list
        if created_at is not None:
            fields["created_at"] = format_time(created_at)
        return self._create_once(
            external_id,
            lambda: self._dc.create_post(raw, category_id=category_id, title=title, **fields),
        )

    def send_message(
        self,
        title: str,
        raw: str,
        recipients: Sequence[str],
        *,
        external_id: str | None = None,
    ) -> CreatedTopic:
        """Start a private message to usernames and/or group names (a group's members
        all see it, as Discourse's allowed groups).

        With ``external_id`` it is sent exactly once, as ``create_topic`` creates topics;
        without one a single attempt is made.
        """
        names = [name.strip() for name in recipients if name.strip()]
        if not names:
            raise InvalidRequest("a message needs at least one recipient", platform=PLATFORM)
        fields: dict[str, Any] = {
            "archetype": "private_message",
            "target_recipients": ",".join(names),
        }

        def send() -> dict[str, Any]:
            answer: dict[str, Any] = self._dc.create_post(raw, title=title, **fields)
            return answer

        if external_id is None:
            with translated():
                answer = send()
            return CreatedTopic(
                int(answer["topic_id"]), "", created=True, post_id=int(answer["id"])
            )
        check_external_id(external_id)
        fields["external_id"] = external_id
        return self._create_once(external_id, send)

    def _create_once(self, external_id: str, create: Callable[[], dict[str, Any]]) -> CreatedTopic:
        """Run ``create`` (a POST /posts.json that starts a topic) unless a topic with
        ``external_id`` exists; after an ambiguous failure look again before retrying."""
        last_error: ConnectorError | None = None
        for _ in range(CREATE_ATTEMPTS):
            existing = self.topic_by_external_id(external_id)
            if existing is not None:
                return CreatedTopic(existing.id, external_id, created=False)
            try:
                with translated():
                    answer = create()
            except (Unavailable, InvalidRequest) as exc:
                if isinstance(exc, InvalidRequest) and not _about_external_id(exc):
                    raise
                last_error = exc  # ambiguous: it may have been created; look again
                continue
            return CreatedTopic(
                int(answer["topic_id"]), external_id, created=True, post_id=int(answer["id"])
            )
        existing = self.topic_by_external_id(external_id)
        if existing is not None:
            return CreatedTopic(existing.id, external_id, created=False)
        assert last_error is not None
        raise last_error

    def topic_by_external_id(self, external_id: str) -> Topic | None:
        """The topic created with ``external_id`` (metadata, no posts), or None if absent.

        Discourse answers ``/t/external_id/{id}.json`` with a 301 to the topic's URL;
        the redirect is followed (same forum, same headers).
        """
        check_external_id(external_id)
        try:
            with translated():
                data = self._dc._get(
                    f"/t/external_id/{external_id}.json",
                    override_request_kwargs={"allow_redirects": True},
                )
        except NotFound:
            return None
        return topic_from(data)

    def get_topic(self, topic_id: int) -> Topic:
        """The topic with all its posts (raw included), in stream order."""
        with translated():
            data = self._dc._get(f"/t/{int(topic_id)}.json")
        stream = [int(post_id) for post_id in data.get("post_stream", {}).get("stream", [])]
        posts: dict[int, Post] = {}
        for start in range(0, len(stream), TOPIC_CHUNK):
            chunk = stream[start : start + TOPIC_CHUNK]
            with translated():
                answer = self._dc.posts(topic_id, post_ids=chunk, include_raw="true")
            for item in answer.get("post_stream", {}).get("posts", []):
                posts[int(item["id"])] = post_from(item)
        ordered = tuple(posts[post_id] for post_id in stream if post_id in posts)
        return topic_from(data, ordered)

    def update_topic(
        self,
        topic_id: int,
        *,
        title: str | None = None,
        category_id: int | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        """Change title, category and/or tags; ``tags`` is the full set (replays converge)."""
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title
        if category_id is not None:
            fields["category_id"] = category_id
        if tags is not None:
            # An empty string clears the set: an empty list would send no field at all.
            fields["tags[]"] = list(tags) or [""]
        if not fields:
            return
        with translated():
            self._dc._put(f"/t/-/{int(topic_id)}.json", **fields)

    def set_topic_status(
        self, topic_id: int, status: str, enabled: bool, *, until: str | None = None
    ) -> None:
        """Close/open, pin/unpin, archive or list/unlist a topic."""
        if status not in TOPIC_STATUSES:
            raise InvalidRequest(f"unknown topic status {status!r}", platform=PLATFORM)
        extra = {"until": until} if until else {}
        with translated():
            self._dc.update_topic_status(int(topic_id), status, enabled, **extra)

    # -- posts ---------------------------------------------------------------------------

    def reply(
        self,
        topic_id: int,
        raw: str,
        *,
        reply_to_post_number: int | None = None,
        created_at: Any = None,
    ) -> Post:
        fields: dict[str, Any] = {}
        if reply_to_post_number is not None:
            fields["reply_to_post_number"] = reply_to_post_number
        if created_at is not None:
            fields["created_at"] = format_time(created_at)
        with translated():
            answer = self._dc.create_post(raw, topic_id=int(topic_id), **fields)
        return post_from(answer)

    def get_post(self, post_id: int) -> Post:
        with translated():
            return post_from(self._dc.post_by_id(int(post_id)))

    def update_post(self, post_id: int, raw: str, edit_reason: str = "") -> Post:
        with translated():
            answer = self._dc.update_post(int(post_id), raw, edit_reason=edit_reason)
        return post_from(answer["post"])

    def latest_posts(self, before: int | None = None) -> list[Post]:
        """One page of the forum's newest public posts (50, id descending, ``before`` inclusive)."""
        with translated():
            answer = self._dc.latest_posts(before=before)
        return [post_from(item) for item in answer.get("latest_posts", [])]

    def directory_page(self, page: int = 0, *, order: str = "likes_given") -> dict[str, Any]:
        """One page (50 people) of the user directory over all time, ``order`` descending:
        ``directory_items`` (each with its counts and ``user``) and ``meta`` (the total).
        Discourse refreshes the directory on a schedule, so its counts may lag a little."""
        with translated():
            answer: dict[str, Any] = self._dc._get(
                "/directory_items.json", period="all", order=order, page=int(page)
            )
        return answer

    def likes_given(
        self, username: str, *, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """One page of ``username``'s likes, newest first (``/user_actions.json``, action
        type 1): each names the post (``post_id``, ``topic_id``, ``post_number``, its
        author as ``username``/``user_id``) and when it was liked (``created_at``)."""
        with translated():
            answer = self._dc._get(
                "/user_actions.json",
                username=username,
                filter=LIKE_ACTION,
                offset=int(offset),
                limit=int(limit),
            )
        return list(answer.get("user_actions") or [])

    def like(self, post_id: int) -> None:
        with translated():
            self._dc._post("/post_actions.json", id=int(post_id), post_action_type_id=2)

    def accept_solution(self, post_id: int) -> None:
        """Mark the post as its topic's solution (the discourse-solved plugin)."""
        with translated():
            self._dc._post("/solution/accept.json", id=int(post_id))


def check_external_id(external_id: str) -> None:
    """Discourse's own rule, checked before any request so a bad id fails clearly."""
    if not EXTERNAL_ID.fullmatch(external_id or ""):
        raise InvalidRequest(
            f"external_id {external_id!r} must be 1-50 characters of letters, digits, _ or -",
            platform=PLATFORM,
        )


def _about_external_id(error: InvalidRequest) -> bool:
    return error.code == "422" and "external" in str(error).lower()
