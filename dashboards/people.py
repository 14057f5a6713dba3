"""The People pages: the leaderboard, identity-link suggestions to approve or reject,
organisations, and one person's score explained with the ledger behind it; and the same
as JSON.

Every decision here is store-only and goes through community/credits/people.py, the
code the ``people`` command uses, so the page and the command cannot disagree. People
who opted out are never listed and their page shows no figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from community.credits import handlers as credit_duties
from community.credits import people as directory
from community.credits.models import LinkSuggestion, Person
from community.credits.rules import load_rules
from core import clock, inbox
from core.config import Settings
from core.errors import ConfigError
from core.store import get_store
from dashboards import ledger_queries as ledgers
from dashboards import people_queries as queries
from dashboards.web import (
    PAGE_SIZE,
    api,
    json_error,
    page_number,
    pages,
    render_page,
    safe_url,
    viewer,
)

DECISIONS = {"linked": "approved (linked)", "rejected": "rejected"}


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


def _organisation_filter() -> str | None:
    return " ".join(request.args.get("organisation", "").split()) or None


# -- pages --------------------------------------------------------------------------------


@pages.get("/people")
def people() -> str:
    page = page_number()
    organisation = _organisation_filter()
    with get_store().session() as session:
        board = queries.leaderboard(
            session, page=page, page_size=PAGE_SIZE, organisation=organisation
        )
        suggestions = queries.link_suggestions(session, page=1, page_size=PAGE_SIZE)
        organisations, unaffiliated = queries.organisation_counts(session)
    return render_page(
        "dashboard/people.html",
        board=board,
        organisation=organisation,
        suggestions=suggestions,
        organisations=organisations,
        unaffiliated=unaffiliated,
    )


@pages.get("/people/<id:person_id>")
def person(person_id: int) -> str:
    page = page_number()
    settings = _settings()
    with get_store().session() as session:
        found = ledgers.person_view(session, person_id)
        if found is None:
            abort(404)
        ledger = ledgers.ledger_page(
            session, found, ledgers.links_for(settings), page=page, page_size=PAGE_SIZE
        )
        names = queries.organisation_names(session)
    return render_page(
        "dashboard/person.html",
        person=found,
        ledger=ledger,
        weights=_weights(settings),
        organisation_names=names,
        safe_url=safe_url,
    )


def _weights(settings: Settings) -> dict[str, float]:
    """The weight per kind of the rules version in force now, to explain a score; none
    when the rules file is broken (the page still shows the ledger, which needs no
    rules)."""
    try:
        return dict(load_rules(settings).at(clock.now()).weights)
    except ConfigError:
        return {}


# -- a moderator's decisions ----------------------------------------------------------------


@pages.post("/people/suggestions/<id:suggestion_id>/approve")
def approve_suggestion(suggestion_id: int) -> Response:
    return _decide(suggestion_id, "linked")


@pages.post("/people/suggestions/<id:suggestion_id>/reject")
def reject_suggestion(suggestion_id: int) -> Response:
    return _decide(suggestion_id, "rejected")


def _decide(suggestion_id: int, state: str) -> Response:
    moderator = viewer().username
    with get_store().session() as session:
        # Locked on PostgreSQL, so two moderators' clicks are decided one after the other.
        suggestion = session.get(LinkSuggestion, suggestion_id, with_for_update=True)
        if suggestion is None:
            abort(404)
        pair = f"wiki:{suggestion.wiki_username} and forum:{suggestion.forum_username}"
        if suggestion.state != "open":
            # people.link would quietly link a rejected pair again; a moderator decides once.
            done = _decided(suggestion)
            flash(f"Suggestion {suggestion_id} ({pair}) was already {done}.", "error")
            return _back()
        try:
            if state == "linked":
                directory.link(session, suggestion_id, moderator)
            else:
                directory.reject(session, suggestion_id, moderator)
        except directory.PeopleError as refused:
            session.rollback()
            flash(f"Not done: {refused}", "error")
            return _back()
    what = "now one person" if state == "linked" else "not one person; never suggested again"
    flash(f"Suggestion {suggestion_id}: {pair} are {what}.", "ok")
    return _back()


@pages.post("/people/badges/run")
def run_badges() -> Response:
    return _queue("badges", "Badges will be granted (and revoked where people opted out)")


@pages.post("/people/suggestions/run")
def run_suggestions() -> Response:
    return _queue("suggestions", "Identity suggestions will be refreshed from both platforms")


def _queue(duty: str, what: str) -> Response:
    """Queue the duty for the worker: a page never calls the wiki or the forum."""
    with get_store().session() as session:
        inbox.record(session, credit_duties.request_event(duty, viewer().username, now=clock.now()))
    flash(f"{what} by the worker in a moment.", "ok")
    return _back()


def _decided(suggestion: LinkSuggestion) -> str:
    words = [DECISIONS.get(suggestion.state, suggestion.state)]
    if suggestion.decided_by:
        words.append(f"by {suggestion.decided_by}")
    if suggestion.decided_at is not None:
        words.append(f"on {suggestion.decided_at:%Y-%m-%d %H:%M} UTC")
    return " ".join(words)


@pages.post("/people/<id:person_id>/organisation")
def set_organisation(person_id: int) -> Response:
    chosen = " ".join(request.form.get("organisation", "").split())
    with get_store().session() as session:
        found = session.get(Person, person_id)
        if found is None:
            abort(404)
        try:
            directory.set_organisation(session, found, chosen, viewer().username)
        except directory.PeopleError as refused:
            session.rollback()
            flash(f"Not changed: {refused}", "error")
            return _back(person_id)
    flash(f"Person {person_id} is now with {found.organisation}.", "ok")
    return _back(person_id)


def _back(person_id: int | None = None) -> Response:
    if person_id is not None:
        return redirect(url_for("dashboard.person", person_id=person_id), code=303)
    return redirect(url_for("dashboard.people"), code=303)


# -- the API ----------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _next(page: int, has_next: bool) -> int | None:
    return page + 1 if has_next else None


@api.get("/people")
def people_json() -> Any:
    page = page_number()
    with get_store().session() as session:
        board = queries.leaderboard(
            session, page=page, page_size=PAGE_SIZE, organisation=_organisation_filter()
        )
    return {
        "page": page,
        "next_page": _next(page, board.has_next),
        "opted_out": board.opted_out,
        "people": [
            {
                "rank": row.rank,
                "person_id": row.person_id,
                "name": row.name,
                "organisation": row.organisation or None,
                "accounts": list(row.accounts),
                "total": row.total,
                "by_kind": row.by_kind,
            }
            for row in board.rows
        ],
    }


@api.get("/people/<id:person_id>/ledger")
def ledger_json(person_id: int) -> Any:
    page = page_number()
    with get_store().session() as session:
        found = ledgers.person_view(session, person_id)
        if found is None:
            return json_error(404, f"person {person_id}: no such person")
        ledger = ledgers.ledger_page(
            session, found, ledgers.links_for(_settings()), page=page, page_size=PAGE_SIZE
        )
    return {
        "person_id": found.person_id,
        "name": found.name,
        "organisation": found.organisation or None,
        "accounts": [{"platform": a.platform, "username": a.username} for a in found.accounts],
        "opted_out": found.opted_out,
        "score": _score_json(found.score),
        "page": page,
        "next_page": _next(page, ledger.has_next),
        "entries": [_entry_json(row) for row in ledger.rows],
    }


def _score_json(score: ledgers.Score | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "total": score.total,
        "by_kind": [
            {"kind": k.kind, "entries": k.entries, "cancelled": k.cancelled, "points": k.points}
            for k in score.by_kind
        ],
    }


def _entry_json(row: ledgers.LedgerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "occurred_at": _time(row.occurred_at),
        "platform": row.platform,
        "account": row.account,
        "kind": row.kind,
        "object": row.object,
        "ref": row.ref,
        "weight": row.weight,
        "rule": row.rule,
        "rules_version": row.rules_version,
        "counter_entry": row.cancels,
        "cancelled": row.cancelled,
        "reason": row.reason or None,
        "source_url": row.url or None,
    }


@api.get("/link-suggestions")
def link_suggestions_json() -> Any:
    page = page_number()
    state = request.args.get("state", "open")
    if state not in ("open", "linked", "rejected"):
        return json_error(400, "state: expected open, linked or rejected")
    with get_store().session() as session:
        found = queries.link_suggestions(session, page=page, page_size=PAGE_SIZE, state=state)
    return {
        "page": page,
        "next_page": _next(page, found.has_next),
        "open_count": found.open_count,
        "suggestions": [_suggestion_json(s) for s in found.rows],
    }


def _suggestion_json(s: queries.SuggestionView) -> dict[str, Any]:
    return {
        "id": s.id,
        "wiki_username": s.wiki_username,
        "forum_username": s.forum_username,
        "reasons": s.reasons,
        "state": s.state,
        "created_at": _time(s.created_at),
        "wiki_person_id": s.wiki_person,
        "forum_person_id": s.forum_person,
    }
