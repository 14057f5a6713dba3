"""Incoming events: Discourse webhooks and (optionally) pushes from the wiki."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the incoming endpoints."""
