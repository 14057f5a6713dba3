"""The forum sandbox's whole state: generic JSON tables, site settings, events, persistence.

Every HTTP request holds ``forum.lock`` while it reads or writes, so handlers see a
consistent forum; listeners (webhooks) are called under the lock and must only queue.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.clock import system_clock
from sandbox.forum import seed

DEFAULT_SITE_SETTINGS: dict[str, Any] = {
    "title": "Constellate Forum Sandbox",
    "enable_discourse_connect_provider": False,
    "discourse_connect_provider_secrets": "",
    "retry_web_hook_events": False,
    "min_topic_title_length": 15,
    "max_topic_title_length": 255,
    "min_post_length": 20,
    "min_first_post_length": 20,
    "max_tag_length": 20,
    "allow_duplicate_topic_titles": False,
    # Off by default, as in Discourse: categories then neither take nor show moderating groups.
    "enable_category_group_moderation": False,
}
SYSTEM_USER_ID = -1


@dataclass(frozen=True)
class ForumEvent:
    """One happening on the forum, as Discourse hands it to its webhook emitter."""

    event_type: str
    event_name: str
    payload: dict[str, Any]
    category_id: int | None = None
    tag_names: Sequence[str] = ()
    group_ids: Sequence[int] = ()


def iso(moment: datetime) -> str:
    """Discourse's timestamp format: ISO-8601 UTC with milliseconds and a Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


API_LOG_SIZE = 200_000


@dataclass(frozen=True)
class ApiCall:
    at: datetime
    method: str
    path: str
    status: int
    username: str | None


class Forum:
    """The forum: tables of plain JSON-able rows, site settings and event listeners."""

    def __init__(
        self,
        base_url: str,
        *,
        state_file: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        _seed: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.state_file = state_file
        # The forum is a server of its own: its clock is the system's unless a test sets one.
        self.clock = clock or system_clock
        self.lock = threading.RLock()
        self.listeners: list[Callable[[ForumEvent], None]] = []
        self.site_settings: dict[str, Any] = dict(DEFAULT_SITE_SETTINGS)
        self._tables: dict[str, dict[int, dict[str, Any]]] = {}
        self._next_ids: dict[str, int] = {}
        # Not persisted: Discourse keeps the create-post memo in Redis for 120 s.
        self.memo: dict[str, tuple[float, int]] = {}
        # Not persisted: the API requests answered (a site's logs), for tests and benchmarks
        # to count what a client spent and when.
        self.api_log: deque[ApiCall] = deque(maxlen=API_LOG_SIZE)
        if _seed:
            seed.populate(self)

    # ---- tables -------------------------------------------------------------------------

    def table(self, name: str) -> dict[int, dict[str, Any]]:
        with self.lock:
            return self._tables.setdefault(name, {})

    def insert(self, name: str, row: dict[str, Any]) -> int:
        with self.lock:
            table = self.table(name)
            next_id = max(self._next_ids.get(name, 1), max(table, default=0) + 1)
            row["id"] = next_id
            table[next_id] = row
            self._next_ids[name] = next_id + 1
            return next_id

    def put(self, name: str, row_id: int, row: dict[str, Any]) -> None:
        """Store a row under a chosen id (system rows such as user -1 or group 0)."""
        with self.lock:
            row["id"] = row_id
            self.table(name)[row_id] = row

    def reserve_ids(self, name: str, first: int) -> None:
        """Make the next inserted id of ``name`` at least ``first``."""
        with self.lock:
            self._next_ids[name] = max(self._next_ids.get(name, 1), first)

    # ---- time ---------------------------------------------------------------------------

    def now(self) -> datetime:
        moment = self.clock()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def now_iso(self) -> str:
        return iso(self.now())

    # ---- lookups ------------------------------------------------------------------------

    def user_by_username(self, name: str) -> dict[str, Any] | None:
        wanted = name.lower()
        with self.lock:
            for user in self.table("users").values():
                if user["username"].lower() == wanted:
                    return user
        return None

    def user_group_names(self, user: dict[str, Any]) -> list[str]:
        """The user's groups, automatic ones first, as DiscourseConnect reports them."""
        names: list[str] = []
        if user.get("admin"):
            names.append("admins")
        if user.get("moderator"):
            names.append("moderators")
        if user.get("admin") or user.get("moderator"):
            names.append("staff")
        names += [f"trust_level_{level}" for level in range(int(user.get("trust_level", 0)) + 1)]
        with self.lock:
            for group in sorted(self.table("groups").values(), key=lambda g: g["id"]):
                if not group.get("automatic") and user["id"] in group.get("user_ids", []):
                    names.append(group["name"])
        return names

    # ---- events -------------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        event_name: str,
        payload: dict[str, Any],
        *,
        category_id: int | None = None,
        tag_names: Sequence[str] = (),
        group_ids: Sequence[int] = (),
    ) -> None:
        event = ForumEvent(
            event_type, event_name, payload, category_id, tuple(tag_names), tuple(group_ids)
        )
        for listener in list(self.listeners):
            listener(event)

    # ---- persistence --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "base_url": self.base_url,
                "site_settings": self.site_settings,
                "next_ids": self._next_ids,
                "tables": {
                    name: {str(k): v for k, v in rows.items()}
                    for name, rows in self._tables.items()
                },
            }

    def save(self) -> None:
        """Write the state file atomically (temp file + rename), if there is one."""
        if self.state_file is None:
            return
        with self.lock:
            text = json.dumps(self.snapshot(), ensure_ascii=False)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".forum-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.state_file)

    @classmethod
    def load(
        cls,
        state_file: Path,
        base_url: str,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Forum:
        """The forum saved in ``state_file``, now served at ``base_url``; fresh if absent."""
        if not state_file.exists():
            forum = cls(base_url, state_file=state_file, clock=clock)
            forum.save()
            return forum
        data = json.loads(state_file.read_text(encoding="utf-8"))
        forum = cls(base_url, state_file=state_file, clock=clock, _seed=False)
        forum.site_settings = {**DEFAULT_SITE_SETTINGS, **data.get("site_settings", {})}
        forum._next_ids = {k: int(v) for k, v in data.get("next_ids", {}).items()}
        forum._tables = {
            name: {int(k): v for k, v in rows.items()}
            for name, rows in data.get("tables", {}).items()
        }
        return forum
