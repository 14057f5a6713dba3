"""The Practices page: the registry of shared practices, their adoption across partner
organisations as a picture, and the suggestions to promote or dismiss; and the registry
as JSON.

Promoting writes a wiki page, so the button only queues the request for the worker
(community/practices/promotion_requests.py); dismissing is store-only and done at once.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from community.practices import candidates, promotion_requests
from community.practices.models import PracticeSuggestion
from community.practices.promotion import TITLE_FORBIDDEN
from core import clock, wakeup
from core.config import Settings
from core.store import get_store
from dashboards import charts
from dashboards import practices_queries as queries
from dashboards.web import PAGE_SIZE, api, page_number, pages, render_page, safe_url, viewer

MAX_FIELD = 255  # a wiki title's and an organisation's longest


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


@pages.get("/practices")
def practices() -> str:
    page = page_number()
    places = queries.places_for(_settings())
    with get_store().session() as session:
        found = queries.registry(session, places, page=page, page_size=PAGE_SIZE)
        suggestions = queries.open_suggestions(session, places, limit=PAGE_SIZE)
    rows, columns, cells = queries.adoption_cells(found.rows)
    picture = charts.adoption_grid(rows, columns, cells, "Adoption across organisations")
    return render_page(
        "dashboard/practices.html",
        registry=found,
        picture=picture,
        suggestions=suggestions,
        can_promote=bool(_settings().get("forum", {}).get("url")),
        safe_url=safe_url,
    )


# -- a moderator's decisions ----------------------------------------------------------------


@pages.post("/practices/suggestions/<id:suggestion_id>/promote")
def promote_suggestion(suggestion_id: int) -> Response:
    title = _field("title")
    organisation = _field("organisation")
    with get_store().session() as session:
        # Locked on PostgreSQL, so two moderators' clicks cannot both queue a promotion.
        suggestion = session.get(PracticeSuggestion, suggestion_id, with_for_update=True)
        if suggestion is None:
            abort(404)
        problem = _promotion_problem(suggestion, title, organisation)
        if problem is None and promotion_requests.is_queued(session, suggestion_id):
            problem = "a promotion of it is already queued"
        if problem is not None:
            flash(f"Not promoted: suggestion {suggestion_id}: {problem}.", "error")
            return _back()
        promotion_requests.request_promotion(
            session,
            suggestion,
            viewer().username,
            title=title,
            organisation=organisation,
            now=clock.now(),
        )
        name = suggestion.title
    wakeup.notify()
    flash(f"Promotion of {name!r} queued; a worker writes the practice page shortly.", "ok")
    return _back()


def _field(name: str) -> str | None:
    return " ".join(request.form.get(name, "").split()) or None


def _promotion_problem(
    suggestion: PracticeSuggestion, title: str | None, organisation: str | None
) -> str | None:
    if suggestion.state != "open":
        return f"it was already {suggestion.state}"
    if suggestion.topic_id is None:
        return "it names a forum tag, not a topic; create the practice page on the wiki"
    if not _settings().get("forum", {}).get("url"):
        return "no forum is configured to read the topic from"
    if title is not None:
        bad = sorted({c for c in title if c in TITLE_FORBIDDEN})
        if bad:
            return f"a wiki title may not contain {' '.join(bad)}"
        if len(title.encode()) > MAX_FIELD:
            return f"the title is longer than {MAX_FIELD} bytes"
    if organisation is not None and ("," in organisation or len(organisation) > MAX_FIELD):
        return "name one organisation (no commas, at most 255 characters)"
    return None


@pages.post("/practices/suggestions/<id:suggestion_id>/dismiss")
def dismiss_suggestion(suggestion_id: int) -> Response:
    with get_store().session() as session:
        suggestion = session.get(PracticeSuggestion, suggestion_id, with_for_update=True)
        if suggestion is None:
            abort(404)
        if promotion_requests.is_queued(session, suggestion_id):
            flash(f"Not dismissed: suggestion {suggestion_id} is being promoted.", "error")
            return _back()
        try:
            dismissed = candidates.dismiss(session, suggestion_id, moderator=viewer().username)
        except candidates.SuggestionError as refused:
            session.rollback()
            flash(f"Not dismissed: {refused}.", "error")
            return _back()
        name = dismissed.title
    flash(f"Dismissed {name!r}; it will not be suggested again.", "ok")
    return _back()


def _back() -> Response:
    return redirect(url_for("dashboard.practices"), code=303)


# -- the API ----------------------------------------------------------------------------------


@api.get("/practices")
def practices_json() -> Any:
    page = page_number()
    places = queries.places_for(_settings())
    with get_store().session() as session:
        found = queries.registry(session, places, page=page, page_size=PAGE_SIZE)
    return {
        "page": page,
        "next_page": page + 1 if found.has_next else None,
        "total": found.total,
        "practices": [
            {
                "page_id": p.page_id,
                "title": p.title,
                "summary": p.summary,
                "originating_organisation": p.originating_organisation or None,
                "tag": p.tag,
                "adopted_by": p.adopters,
                "topic_count": p.topic_count,
                "latest_topics": [
                    {"topic_id": t.topic_id, "title": t.title, "url": t.url or None}
                    for t in p.topics
                ],
                "url": p.url or None,
            }
            for p in found.rows
        ],
    }
