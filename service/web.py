"""What a web server serves (service/wsgi.py): the full service, or with workers apart
the Discourse receiver alone until another request needs the rest (service/receiving.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.config import load_config
from service.receiving import create_receiver
from webhooks.incoming.discourse import WebhooksFirst

if TYPE_CHECKING:
    from flask import Flask


def web_app() -> WebhooksFirst | Flask:
    """What a web server serves, configured from ``$CONSTELLATE_CONFIG``."""
    if load_config()["worker"]["embedded"]:
        return _full_service()
    return WebhooksFirst(create_receiver(), _full_service)


def _full_service() -> Flask:
    from service.app import create_app  # imported here: a receiving process never loads it

    return create_app()
