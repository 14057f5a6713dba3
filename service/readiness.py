"""Liveness (/healthz) and readiness (/readyz): store, wiki and forum reachable."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from connectors.discourse.client import ForumClient
from connectors.mediawiki.client import WikiClient
from core.forum_budget import BudgetExhausted
from core.store import get_store

log = logging.getLogger("constellate.health")
bp = Blueprint("health", __name__)

# Readiness must answer quickly even when a platform hangs.
PROBE_TIMEOUT = 5.0
# Platform answers are reused this long: anyone may ask /readyz, and each forum probe
# spends the admin API key's shared budget (60 requests a minute by default).
PLATFORM_PROBE_TTL = 15.0
PLATFORMS = frozenset({"wiki", "forum"})
CACHE_KEY = "constellate.readiness"


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    settings = current_app.config["CONSTELLATE"]
    probes: dict[str, Callable[[], str]] = {
        "store": _probe_store,
        "wiki": lambda: _probe_wiki(settings["wiki"]),
        "forum": lambda: _probe_forum(settings["forum"]),
    }
    remembered = current_app.extensions.setdefault(CACHE_KEY, {})
    checks: dict[str, dict[str, Any]] = {}
    for name, probe in probes.items():
        cached = remembered.get(name)
        if cached is not None and time.monotonic() - cached[0] < PLATFORM_PROBE_TTL:
            checks[name] = cached[1]
            continue
        checks[name] = _check(name, probe)
        if name in PLATFORMS:
            remembered[name] = (time.monotonic(), checks[name])
    failed = [name for name, check in checks.items() if not check["ok"]]
    body = {"ready": not failed, "failed": failed, "checks": checks}
    return jsonify(body), 503 if failed else 200


def _check(name: str, probe: Callable[[], str]) -> dict[str, Any]:
    try:
        return {"ok": True, "detail": probe()}
    except Exception as exc:  # a probe failing is the answer, not a crash
        log.warning("readiness: %s failed: %s", name, exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def _probe_store() -> str:
    get_store().ping()
    return "answers"


def _probe_wiki(cfg: dict[str, Any]) -> str:
    quick = {**cfg, "timeout": min(cfg["timeout"], PROBE_TIMEOUT), "max_retries": 0}
    info = WikiClient(quick).ping()
    return f"{info.get('sitename')} ({info.get('generator')})"


def _probe_forum(cfg: dict[str, Any]) -> str:
    if not cfg["url"]:
        return "not configured"
    quick = {**cfg, "timeout": min(cfg["timeout"], PROBE_TIMEOUT), "rate_limit_wait_budget": 0}
    try:
        about = ForumClient(quick).ping()
    except BudgetExhausted as exc:
        # Our own pacing at the forum's limit, not the forum failing: the minute's
        # requests are spoken for by work, which a probe must not take from it.
        return f"not asked: {exc}"
    return str(about.get("about", {}).get("title", "answers"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
