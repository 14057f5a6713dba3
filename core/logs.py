"""Logging set-up; secrets from the configuration are redacted from every record."""

from __future__ import annotations

import logging

from flask import Flask

from core.config import MASK, Settings, secret_values


class RedactSecrets(logging.Filter):
    """Replace any configured secret that reaches a log line by a mask."""

    def __init__(self, secrets: set[str]) -> None:
        super().__init__()
        self.secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:  # a traceback's text can carry secrets too
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def init_app(app: Flask) -> None:
    configure(app.config["CONSTELLATE"])


def configure(settings: Settings) -> None:
    """Log format, level and secret redaction; for the app and for commands without it."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("constellate").setLevel(settings["service"]["log_level"])
    redactor = RedactSecrets(secret_values(settings))
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
