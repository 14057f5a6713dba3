"""What the session forum's webhooks delivered while a test ran, as the events the
receiver makes of them, and the dispatch table's handlers run over them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from community.handling import HandlerContext
from core.events import Event
from sandbox.forum import webhooks
from service.dispatch import handlers_for
from tests.community.constellations.sync_support import SyncRig
from tests.conftest import SessionForum
from tests.sandbox.forum.receivers import Receiver
from webhooks.incoming.discourse_events import normalise

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)
TOPIC_KINDS = ("post", "like", "solved", "topic")  # the event types that name a topic


@contextmanager
def deliveries(forum: SessionForum) -> Iterator[Receiver]:
    """Every webhook of the session forum while the block runs."""
    admin = forum.client(forum.api_username)
    with Receiver() as receiving:
        form = {
            "web_hook[payload_url]": receiving.url,
            "web_hook[active]": "true",
            "web_hook[wildcard_web_hook]": "true",
            "web_hook[content_type]": "1",
        }
        hook = admin._post("/admin/api/web_hooks.json", **form)["web_hook"]
        try:
            yield receiving
        finally:
            assert webhooks.drain(forum.forum, timeout=15)
            admin._delete(f"/admin/api/web_hooks/{hook['id']}.json")


def events_about(forum: SessionForum, receiver: Receiver, topics: set[int]) -> list[Event]:
    """The post, like, solution and topic events of ``topics``, in the order the forum
    sent them."""
    assert webhooks.drain(forum.forum, timeout=15)
    found = []
    for request in sorted(receiver.requests, key=lambda r: r.event_id):
        body = request.json
        if request.headers["x-discourse-event-type"] not in TOPIC_KINDS:
            continue
        obj = body[request.headers["x-discourse-event-type"]]
        post = obj.get("post", obj)
        if post.get("topic_id", post["id"]) in topics:
            found.append(
                normalise(request.event, body, request.body, delivery_id=str(request.event_id),
                          received=RECEIVED)
            )  # fmt: skip
    return found


def events_of(forum: SessionForum, receiver: Receiver, event_type: str) -> list[Event]:
    """Every event of one ``X-Discourse-Event-Type`` the forum sent, in order."""
    assert webhooks.drain(forum.forum, timeout=15)
    return [
        normalise(request.event, request.json, request.body,
                  delivery_id=str(request.event_id), received=RECEIVED)
        for request in sorted(receiver.requests, key=lambda r: r.event_id)
        if request.headers["x-discourse-event-type"] == event_type
    ]  # fmt: skip


def handle(rig: SyncRig, events: list[Event]) -> None:
    """Each event through every handler the dispatch table names for its kind."""
    for event in events:
        with rig.store.session() as session:
            for handler in handlers_for(event.kind):
                handler(event, HandlerContext(session, rig.settings))
