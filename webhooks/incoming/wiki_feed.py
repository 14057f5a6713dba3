"""The wiki's own push: its recent-changes feed (``$wgRCFeeds``) heard, confirmed, recorded.

Each message is only a hint. It is read (``wiki_feed_messages``: size, JSON, fields, this
wiki's ``server_name`` and ``wiki`` id, a known type), then the change it names is looked
up in the wiki's API (``list=recentchanges`` at the message's second, for its title when
it is alone, else one request for a window of hints), and only the API's entry becomes
an Event, through ``change_from`` and ``change_event``: the poll's event, ``wiki:rc:<rcid>``,
which the inbox keeps once whichever path brings it first. A message naming a change the
API does not list records nothing. Every message is counted by outcome
(``constellate_wiki_feed_messages_total``); refusals are logged, and nothing a sender
writes stops the listener.

MediaWiki sends a change right after inserting it, before its transaction commits, so a
hint the API does not list yet is asked about again a few times before it counts as
unconfirmed. The listener runs in the worker that polls the platforms
(``service.worker``); the poll stays the safety net and counts what the feed missed
(``wiki_poll``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from connectors.mediawiki import WikiChange, WikiClient
from connectors.mediawiki.feed import FeedSource, open_feed
from core import inbox, telemetry, wakeup
from core.clock import Clock, current, using
from core.config import masked
from core.errors import ConnectorError, RateLimited, Unavailable
from core.store import Store
from webhooks.incoming.wiki_events import change_event
from webhooks.incoming.wiki_feed_messages import Hint, Refusal, WikiIdentity, read_hint

log = logging.getLogger("constellate.webhooks.wiki_feed")

# Seconds after a hint's first look-up that the API is asked again, while it does not
# list the change yet (the wiki's transaction may not have committed).
CONFIRM_DELAYS = (0.25, 0.5, 1.0, 2.0)
# Hints at most this many seconds apart are looked up in one request (a window of the
# recent changes); a window spans at most WINDOW_LIMIT seconds.
WINDOW_GAP = 60
WINDOW_LIMIT = 300
RECEIVE_SECONDS = 0.5  # the longest wait for messages: how soon a stop is noticed
REOPEN_SECONDS = 5.0  # after the source or the wiki failed
LOG_EVERY_SECONDS = 60.0  # one line per kind of refusal in this time, with a count

RECORDED = "recorded"
DUPLICATE = "duplicate"
UNCONFIRMED = "unconfirmed"
UNAVAILABLE = "unavailable"


@dataclass
class _Waiting:
    hint: Hint
    due: float  # time.monotonic() of its next look-up
    tries: int = 0


class WikiLookup(Protocol):
    """What the listener asks the wiki (``WikiClient`` answers it)."""

    def changes_between(
        self, start: datetime, end: datetime, *, title: str | None = None
    ) -> Iterator[WikiChange]: ...

    def site_identity(self) -> tuple[str, str]: ...


class FeedListener:
    """Hears one feed (``wiki.feed``) and records what the wiki confirms.

    ``source`` (default: opened from ``wiki.feed`` when ``run`` starts), ``client`` (the
    bot's own WikiClient, one try per request) and ``clock`` (stamps what is recorded)
    are injectable; ``counts`` holds this listener's outcomes.
    """

    def __init__(
        self,
        store: Store,
        settings: Mapping[str, Any],
        *,
        source: FeedSource | None = None,
        client: WikiLookup | None = None,
        clock: Clock | None = None,
        wake: Callable[[], None] = wakeup.notify,
    ) -> None:
        self.store = store
        self.uri = str(settings["wiki"]["feed"])
        self.shown_uri = str(masked(dict(settings))["wiki"]["feed"])
        self.source = source
        self.client = client or WikiClient({**settings["wiki"], "max_retries": 0})
        self.clock = clock or current()
        self.wake = wake
        self.counts: Counter[str] = Counter()
        self.ready = threading.Event()  # set once the source is open
        self._identity: WikiIdentity | None = None
        self._waiting: dict[int, _Waiting] = {}
        self._logged: dict[str, tuple[float, int]] = {}  # reason -> (last line, unlogged)
        self._last_trouble = ""

    # -- running -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Listen until ``stop`` is set; trouble is logged and waited out, never raised."""
        log.info("wiki feed: listening on %s", self.shown_uri)
        with using(self.clock):
            while not stop.is_set():
                try:
                    self.step()
                except Exception as exc:  # a source, wiki or store outage: wait, go on
                    self._trouble(exc)
                    stop.wait(REOPEN_SECONDS)
        self._close()
        log.info("wiki feed: stopped")

    def step(self, timeout: float = RECEIVE_SECONDS) -> None:
        """Receive what arrives within ``timeout`` (less when a look-up is due), read it,
        and look up the hints that are due."""
        source = self._open()
        due = min((w.due for w in self._waiting.values()), default=None)
        if due is not None:
            timeout = min(timeout, max(0.0, due - time.monotonic()))
        try:
            messages = source.receive(timeout)
        except Exception:
            self._close()  # opened again at the next step
            raise
        self.handle(messages)
        self.confirm_due()  # a store error leaves the hints waiting: asked again later
        self._last_trouble = ""

    def _trouble(self, exc: Exception) -> None:
        """An error line for a new trouble; a quieter one while the same one lasts."""
        text = f"{type(exc).__name__}: {exc}"
        level = logging.DEBUG if text == self._last_trouble else logging.ERROR
        log.log(level, "wiki feed: %s; trying again in %.0f s", text, REOPEN_SECONDS)
        self._last_trouble = text

    def _open(self) -> FeedSource:
        if self.source is None:
            self.source = open_feed(self.uri)
        self.ready.set()
        return self.source

    def _close(self) -> None:
        source, self.source = self.source, None
        if source is not None:
            source.close()

    # -- reading ---------------------------------------------------------------------------

    def handle(self, messages: list[bytes]) -> None:
        """Read each message; hints wait for their look-up (due now)."""
        if not messages:
            return
        try:
            identity = self.identity()
        except ConnectorError as exc:  # nothing can be judged; the poll reads them
            log.warning("wiki feed: the wiki cannot say who it is (%s)", exc)
            for _ in messages:
                self._count(UNAVAILABLE)
            return
        now = time.monotonic()
        for raw in messages:
            found = read_hint(raw, identity)
            if isinstance(found, Refusal):
                self._count(found.reason)
                self._log(found.reason, "refused a message (%s): %s", found.reason, found.detail)
            elif found.rcid in self._waiting:
                self._count(DUPLICATE)
            else:
                self._waiting[found.rcid] = _Waiting(found, due=now)

    def identity(self) -> WikiIdentity:
        """How the wiki signs its messages, asked once."""
        if self._identity is None:
            self._identity = WikiIdentity(*self.client.site_identity())
        return self._identity

    # -- confirming ------------------------------------------------------------------------

    def confirm_due(self) -> None:
        """Look up the hints that are due; record the changes the wiki lists."""
        now = time.monotonic()
        due = [waiting for waiting in self._waiting.values() if waiting.due <= now]
        if not due:
            return
        try:
            listed = self._look_up([waiting.hint for waiting in due])
        except (Unavailable, RateLimited) as exc:
            log.warning("wiki feed: the wiki cannot confirm %d change(s) now: %s", len(due), exc)
            self._again(due, UNAVAILABLE)
            return
        confirmed = [listed[w.hint.rcid] for w in due if w.hint.rcid in listed]
        self._again([w for w in due if w.hint.rcid not in listed], UNCONFIRMED)
        if confirmed:
            self._record(confirmed)

    def _look_up(self, hints: list[Hint]) -> dict[int, WikiChange]:
        """The wiki's entries of ``hints``, by rcid: one request per window of them."""
        wanted = {hint.rcid for hint in hints}
        listed: dict[int, WikiChange] = {}
        for window in _windows(hints):
            first, last = window[0].timestamp, window[-1].timestamp
            title = window[0].title if len(window) == 1 else None
            try:
                changes = list(self.client.changes_between(first, last, title=title))
            except (Unavailable, RateLimited):
                raise
            except ConnectorError as exc:  # the wiki refused the question (a bad title)
                log.info("wiki feed: looking up %s: %s", [h.rcid for h in window], exc)
                continue
            listed.update((c.rcid, c) for c in changes if c.rcid in wanted)
        return listed

    def _again(self, waiting: list[_Waiting], outcome: str) -> None:
        """Ask about these again later, or give up on them counted as ``outcome``."""
        now = time.monotonic()
        for item in waiting:
            if item.tries < len(CONFIRM_DELAYS):
                item.due = now + CONFIRM_DELAYS[item.tries]
                item.tries += 1
                continue
            del self._waiting[item.hint.rcid]
            self._count(outcome)
            hint = item.hint
            self._log(
                outcome,
                "change %d (%s of %r at %s) %s; nothing recorded",
                hint.rcid,
                hint.type,
                hint.title[:120],
                hint.timestamp.isoformat(),
                "is not in the wiki's recent changes"
                if outcome == UNCONFIRMED
                else "could not be confirmed",
            )

    def _record(self, changes: list[WikiChange]) -> None:
        outcomes: list[str] = []
        with self.store.session() as session:
            for change in changes:
                stored = inbox.record(session, change_event(change))
                outcomes.append(RECORDED if stored else DUPLICATE)
        for change, outcome in zip(changes, outcomes, strict=True):
            del self._waiting[change.rcid]
            self._count(outcome)
        if RECORDED in outcomes:
            self.wake()

    # -- counting --------------------------------------------------------------------------

    def _count(self, outcome: str) -> None:
        self.counts[outcome] += 1
        telemetry.count_feed_message(outcome)

    def _log(self, reason: str, message: str, *args: object) -> None:
        """A warning, at most one per ``reason`` a minute (a flood of garbage must not
        flood the log); the next line says how many were not logged."""
        now = time.monotonic()
        last, unlogged = self._logged.get(reason, (-LOG_EVERY_SECONDS, 0))
        if now - last < LOG_EVERY_SECONDS:
            self._logged[reason] = (last, unlogged + 1)
            return
        more = f" (and {unlogged} more since the last such line)" if unlogged else ""
        log.warning("wiki feed: " + message + more, *args)
        self._logged[reason] = (now, 0)


def _windows(hints: list[Hint]) -> Iterator[list[Hint]]:
    """Hints in time order, cut where they are far apart or a window grows too long."""
    window: list[Hint] = []
    for hint in sorted(hints, key=lambda h: (h.timestamp, h.rcid)):
        if window and (
            (hint.timestamp - window[-1].timestamp).total_seconds() > WINDOW_GAP
            or (hint.timestamp - window[0].timestamp).total_seconds() > WINDOW_LIMIT
        ):
            yield window
            window = []
        window.append(hint)
    if window:
        yield window


@contextmanager
def listening(
    store: Store, settings: Mapping[str, Any], clock: Clock
) -> Iterator[FeedListener | None]:
    """A listener in a thread of its own while the block runs, when ``wiki.feed`` names
    a feed (else None); it stops and lets go of its source at the end."""
    if not settings["wiki"].get("feed"):
        yield None
        return
    listener = FeedListener(store, settings, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=listener.run, args=(stop,), name="constellate-wiki-feed", daemon=True
    )
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(timeout=RECEIVE_SECONDS + 30)
