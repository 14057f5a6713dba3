"""Workers: claim inbox events with a lease, dispatch them, retry or dead-letter them."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Start the embedded worker thread when configured (the one-process default)."""
