"""Logging set-up: text or JSON lines, event ids on every line about an event, secrets
redacted from every record.

``service.log_format = "json"`` writes one JSON object per line (time in UTC, level,
logger, message, the bound ids, a ``traceback`` field for exceptions) for log shippers;
"text" is for people and appends ``event=<id>``. Ids reach the records two ways: a
``with bound(event_id=...)`` block (the worker binds the event it processes, so handler
and connector lines carry it too) and a log call's ``extra={"delivery_id": ...}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.config import MASK, Settings, secret_values

if TYPE_CHECKING:
    from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The ids a line may carry; nothing else is copied from a record into the JSON object.
FIELDS = ("event_id", "kind", "worker_id", "delivery_id", "message_id")
# Our code logs under these names (module loggers and "constellate.*"); the level applies
# to them, not to every library's logger.
OUR_LOGGERS = (
    "constellate",
    "core",
    "connectors",
    "community",
    "webhooks",
    "dashboards",
    "service",
)
# The handler configure() installs when nobody else configured logging; only its
# formatter is ours to set (a deployment's or a test runner's handlers keep theirs).
HANDLER_NAME = "constellate"

_BOUND: ContextVar[Mapping[str, str] | None] = ContextVar("constellate_log_fields", default=None)


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Every record logged inside the block (in this thread or task) carries ``fields``."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"log fields must be among {', '.join(FIELDS)}; got {sorted(unknown)}")
    values = {key: str(value) for key, value in fields.items() if value is not None}
    token = _BOUND.set({**current(), **values})
    try:
        yield
    finally:
        _BOUND.reset(token)


def current() -> Mapping[str, str]:
    """The fields bound here now."""
    return _BOUND.get() or {}


class BindFields(logging.Filter):
    """Copy the bound fields onto each record; a log call's own ``extra`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


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
        for key in FIELDS:  # ids come from outside (webhook headers); mask there too
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


class TextFormatter(logging.Formatter):
    """The plain format, with `` event=<id>`` on lines about an event."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        event_id = getattr(record, "event_id", None)
        return f"{text} event={event_id}" if event_id else text


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False)


def _utc(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter(TEXT_FORMAT)
    raise ValueError(f"service.log_format: {log_format!r} is not text or json")


def init_app(app: Flask) -> None:
    configure(app.config["CONSTELLATE"])


def configure(settings: Settings) -> None:
    """Log format, level, bound ids and secret redaction; for the app and for commands."""
    service = settings["service"]
    formatter = formatter_for(str(service.get("log_format", "text")))
    root = logging.getLogger()
    if not root.handlers:  # nobody configured logging: lines go to stderr
        ours = logging.StreamHandler()
        ours.name = HANDLER_NAME
        root.addHandler(ours)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(service["log_level"])
    redactor = RedactSecrets(secret_values(settings))
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets | BindFields)]:
            handler.removeFilter(old)
        handler.addFilter(BindFields())  # before redaction: bound ids are masked too
        handler.addFilter(redactor)
        if handler.name == HANDLER_NAME:
            handler.setFormatter(formatter)
