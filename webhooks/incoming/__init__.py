"""Incoming events: Discourse webhooks and (optionally) pushes from the wiki."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the incoming endpoints."""
    from webhooks.incoming import discourse, wiki_push

    app.register_blueprint(discourse.blueprint)
    app.register_blueprint(wiki_push.blueprint)
