"""Discourse-compatible outgoing webhooks: the listener that turns forum events into deliveries.

Hooks live in the forum table ``web_hooks`` and every delivery in ``web_hook_events``;
``webhook_delivery`` sends them and ``webhook_admin`` serves Discourse's admin API for them.
Tests call ``drain(forum)`` to wait for the asynchronous deliveries.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from sandbox.forum import webhook_admin
from sandbox.forum.state import Forum, ForumEvent
from sandbox.forum.webhook_delivery import EXTENSION, HOOKS, Deliverer, encode_body
from sandbox.forum.webhook_types import EVENT_TYPE_IDS, subscription_name


class WebhookListener:
    """The forum listener: records and queues one delivery per matching active hook."""

    def __init__(self, forum: Forum, deliverer: Deliverer) -> None:
        self.forum = forum
        self.deliverer = deliverer

    def __call__(self, event: ForumEvent) -> None:
        queue_event(self.forum, self.deliverer, event)


def init_app(app: Flask, forum: Forum) -> None:
    """Register the admin routes; listen to the forum once even if several apps serve it."""
    listener = _listener(forum)
    if listener is None:
        listener = WebhookListener(forum, Deliverer(forum))
        forum.listeners.append(listener)
    app.extensions[EXTENSION] = listener.deliverer
    webhook_admin.register(app)


def _listener(forum: Forum) -> WebhookListener | None:
    return next((f for f in forum.listeners if isinstance(f, WebhookListener)), None)


def deliverer_for(target: Any) -> Deliverer:
    """The deliverer of a Forum, a Flask app, or anything with a ``.forum`` (a ForumServer)."""
    if isinstance(target, Flask):
        found: Deliverer = target.extensions[EXTENSION]
        return found
    listener = _listener(target if isinstance(target, Forum) else target.forum)
    if listener is None:
        raise LookupError("no webhooks on this forum: create_forum_app() was not called")
    return listener.deliverer


def drain(target: Any, timeout: float = 10.0) -> bool:
    """Wait until every queued delivery (and every retry already due) has been sent."""
    return deliverer_for(target).drain(timeout)


def stop(target: Any) -> None:
    """End the worker threads (they are daemons, so this is only tidiness)."""
    deliverer_for(target).stop()


def queue_event(forum: Forum, deliverer: Deliverer, event: ForumEvent) -> None:
    """Record and queue one delivery per matching active hook (called under the lock)."""
    type_id = EVENT_TYPE_IDS.get(subscription_name(event.event_name))
    body = encode_body(event.event_type, event.payload)
    with forum.lock:
        hooks = sorted(forum.table(HOOKS).values(), key=lambda hook: hook["id"])
        matching = [hook for hook in hooks if hook_matches(hook, type_id, event)]
        for hook in matching:
            deliverer.enqueue(hook, event.event_type, event.event_name, body)
        if matching:
            forum.save()


def hook_matches(hook: dict[str, Any], type_id: int | None, event: ForumEvent) -> bool:
    """Discourse's filters: active, subscribed (or wildcard), then each filter the hook has."""
    if not hook["active"]:
        return False
    if not hook["wildcard_web_hook"] and type_id not in hook["web_hook_event_type_ids"]:
        return False
    if hook["category_ids"] and event.category_id not in hook["category_ids"]:
        return False
    hook_tags = {name.lower() for name in hook["tag_names"]}
    if hook_tags and not hook_tags & {name.lower() for name in event.tag_names}:
        return False
    return not (hook["group_ids"] and not set(hook["group_ids"]) & set(event.group_ids))
