"""The Sync page: the reconcile's runs, how far behind the platform readers are, the forum
request budget every process spends from, what is broken (malformed charters, refused
pages, failed sync events), conflicts with a choice of side, and a Resync button; and the
same state as JSON at /api/v1/sync.

Buttons only record inbox events (see community.constellations.requests): the worker talks to the
wiki and the forum, never the web request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from community.constellations.models import SyncIssue
from community.constellations.requests import (
    CHOICES,
    KEEP_FORUM,
    is_resolvable,
    resolution_event,
    resync_event,
)
from community.constellations.sync_runs import FULL, SyncRun
from core import clock, forum_budget, inbox, wakeup
from core.config import Settings
from core.store import get_store
from dashboards import charts, sync_report
from dashboards.web import api, page_number, pages, render_page, safe_url, viewer

# Characters MediaWiki never allows in a title (and control characters).
BAD_TITLE = set("#<>[]|{}")
MAX_TITLE = 255
CHOICE_LABELS = {KEEP_FORUM: "keep the forum's text", "use_wiki": "use the wiki's charter"}
# The forum budget's priorities (core.forum_budget.PRIORITIES), most urgent first.
PRIORITY_LABELS = {
    "moderator": "Moderators' actions",
    "sync": "Sync writes",
    "section": "Wiki section refreshes",
    "scan": "Scans and backfills",
}


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


def forum_post_url(post_id: int | None) -> str:
    """The charter post on the forum (Discourse's /p/<id> finds its topic), if http(s)."""
    base = str(_settings().get("forum", {}).get("url") or "").rstrip("/")
    return safe_url(f"{base}/p/{post_id}") if base and post_id else ""


def _state(session: Session, *, now: datetime, page: int) -> dict[str, Any]:
    runs, more = sync_report.runs_page(session, page=page)
    return {
        "runs": runs,
        "more": more,
        "cursors": sync_report.cursor_lags(session, now=now),
        "conflicts": sync_report.open_issues(session, ("conflict",)),
        "errors": sync_report.open_issues(session, sync_report.ERROR_KINDS),
        "failed": sync_report.failed_events(session),
        "queued": sync_report.queued_resolutions(session),
        "resyncs": sync_report.queued_resyncs(session),
    }


# -- the page -----------------------------------------------------------------------------


@pages.get("/sync")
def sync() -> str:
    page = page_number()
    now = clock.now()
    with get_store().session() as session:
        state = _state(session, now=now, page=page)
    return render_page(
        "dashboard/sync.html",
        page=page,
        now=now,
        budget=forum_budget.of_app(current_app).status(),
        priority_labels=PRIORITY_LABELS,
        full=FULL,
        choice_labels=CHOICE_LABELS,
        is_resolvable=is_resolvable,
        forum_post_url=forum_post_url,
        duration=duration,
        trend=charts.sparkline(
            [run.pages_changed for run in reversed(state["runs"])], "Pages changed per run"
        ),
        **state,
    )


def duration(seconds: float | None) -> str:
    """A short human duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _back() -> Response:
    return redirect(url_for("dashboard.sync"), code=303)


def _title_problem(title: str) -> str | None:
    if len(title) > MAX_TITLE:
        return f"a page title has at most {MAX_TITLE} characters"
    if any(ch in BAD_TITLE or ord(ch) < 32 or ord(ch) == 127 for ch in title):
        return "a page title cannot contain # < > [ ] | { } or control characters"
    return None


@pages.post("/sync/resync")
def resync() -> Response:
    title = " ".join(request.form.get("title", "").split()) or None
    if title is not None and (problem := _title_problem(title)):
        flash(f"Not queued: {problem}.", "error")
        return _back()
    if not _settings().get("forum", {}).get("url"):
        flash("Not queued: no forum is configured, so there is nothing to sync with.", "error")
        return _back()
    what = f"the page “{title}”" if title else "every constellation page"
    with get_store().session() as session:
        if title in sync_report.queued_resyncs(session):
            flash(f"A resync of {what} is already queued.", "error")
            return _back()
        inbox.record(session, resync_event(title, viewer().username, now=clock.now()))
    wakeup.notify()
    flash(f"Resync of {what} queued; a worker runs it shortly.", "ok")
    return _back()


@pages.post("/sync/issues/<id:issue_id>/resolve")
def resolve_sync_issue(issue_id: int) -> Response:
    choice = request.form.get("choice", "")
    with get_store().session() as session:
        # Locked on PostgreSQL, so two moderators' clicks cannot both queue a choice.
        issue = session.get(SyncIssue, issue_id, with_for_update=True)
        if issue is None:
            abort(404)
        problem = _resolve_problem(session, issue, choice)
        if problem is not None:
            flash(f"Not resolved: {problem}.", "error")
            return _back()
        event = resolution_event(issue_id, choice, viewer().username, now=clock.now())
        inbox.record(session, event)
        title = issue.wiki_title
    wakeup.notify()
    flash(f"Conflict on “{title}”: {CHOICE_LABELS[choice]}; a worker applies it shortly.", "ok")
    return _back()


def _resolve_problem(session: Session, issue: SyncIssue, choice: str) -> str | None:
    if choice not in CHOICES:
        return "choose to keep the forum's text or to use the wiki's charter"
    if issue.resolved_at is not None:
        return f"issue {issue.id} is already resolved"
    if not is_resolvable(issue):
        return f"issue {issue.id} is settled by changing the wiki page, not by choosing a side"
    if issue.id in sync_report.queued_resolutions(session):
        return f"a choice for issue {issue.id} is already queued"
    return None


# -- the API ------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "trigger": run.trigger,
        "full": run.scope == FULL,
        "titles": [] if run.scope == FULL else [t for t in run.scope.split("\n") if t],
        "requested_by": run.requested_by,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "pages_seen": run.pages_seen,
        "pages_changed": run.pages_changed,
        "counts": {str(k): int(v) for k, v in (run.counts or {}).items()},
        "error": run.error,
    }


def _budget_json(status: forum_budget.Status) -> dict[str, Any]:
    return {
        "per_minute": status.per_minute,
        "allowed": status.allowed,
        "used": status.used,
        "left": status.left,
        "used_by_priority": status.used_by_priority,
        "waiting_by_priority": status.waiting_by_priority,
        "rate_limited": status.rate_limited,
        "paused_seconds": status.paused_for,
    }


def _issue_json(issue: SyncIssue, queued: dict[int, str]) -> dict[str, Any]:
    return {
        "id": issue.id,
        "kind": issue.kind,
        "wiki_title": issue.wiki_title,
        "wiki_page_id": issue.wiki_page_id,
        "field": issue.field,
        "detail": issue.detail,
        "forum_post_id": issue.forum_post_id,
        "created_at": _time(issue.created_at),
        "resolvable": is_resolvable(issue),
        "queued_choice": queued.get(issue.id),
    }


@api.get("/sync")
def sync_state() -> Any:
    page = page_number()
    with get_store().session() as session:
        state = _state(session, now=clock.now(), page=page)
    issues = sorted([*state["conflicts"].rows, *state["errors"].rows], key=lambda i: i.id)
    return {
        "page": page,
        "next_page": page + 1 if state["more"] else None,
        "runs": [_run_json(run) for run in state["runs"]],
        "cursors": [
            {
                "name": cursor.name,
                "value": cursor.value,
                "position_at": _time(cursor.position_at),
                "updated_at": _time(cursor.updated_at),
                "lag_seconds": cursor.lag_seconds,
            }
            for cursor in state["cursors"]
        ],
        "open_issues": [_issue_json(issue, state["queued"]) for issue in issues],
        "open_issue_total": state["conflicts"].total + state["errors"].total,
        "failed_events": [
            {
                "id": row.id,
                "kind": row.kind,
                "subject": row.subject,
                "state": row.state,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "reason": row.reason,
                "received_at": _time(row.received_at),
            }
            for row in state["failed"].rows
        ],
        "queued_resyncs": [{"title": title} for title in state["resyncs"]],
        "forum_budget": _budget_json(forum_budget.of_app(current_app).status()),
    }
