"""Incoming events: Discourse webhooks (a plain WSGI receiver the service puts in front of
Flask, service/receiving.py) and (optionally) pushes from the wiki."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the wiki's push endpoint."""
    from webhooks.incoming import wiki_push

    app.register_blueprint(wiki_push.blueprint)
