"""The "link my accounts" pages: a person names their wiki account, logs in on the forum
(DiscourseConnect, the forum as identity provider) and comes back; a moderator then sees a
link suggestion. Nothing is linked here.

The nonce is stored server-side (one use, ten minutes) and also kept in the browser's
signed session cookie, so an answer is accepted only in the browser that started it.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from markupsafe import escape

from community.credits import people
from connectors.discourse.connect import (
    configured_secret,
)
from connectors.mediawiki import WikiClient
from core.errors import ConstellateError, PermissionDenied
from core.store import get_store
from dashboards.connect_flow import redirect_to_forum, verified_answer

log = logging.getLogger(__name__)
bp = Blueprint("people_connect", __name__)

CALLBACK_PATH = "/people/connect/callback"
SESSION_NONCE = "constellate.connect_nonce"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/people/connect")
def start_link() -> ResponseReturnValue:
    secret = _secret()
    if secret is None:
        return _not_configured()
    try:
        with get_store().session() as db:
            nonce = people.start_connect_login(db, request.args.get("wiki", ""))
    except people.PeopleError as exc:
        return _page("Cannot link accounts", f"The wiki parameter is wrong: {exc}", 400)
    return redirect_to_forum(secret, nonce, SESSION_NONCE, CALLBACK_PATH)


@bp.get(CALLBACK_PATH)
def finish_link() -> ResponseReturnValue:
    secret = _secret()
    if secret is None:
        return _not_configured()
    try:
        fields, wiki_name = verified_answer(secret, SESSION_NONCE, people.LINK)
        with get_store().session() as db:
            login = people.record_connect_login(db, fields, wiki_name)
            forum_name = login.forum_username
    except PermissionDenied as exc:
        log.warning("people: %s", exc)
        return _page("Login refused", str(exc), 403)
    except people.PeopleError as exc:
        return _page("Login refused", str(exc), 400)
    try:
        wiki = WikiClient(current_app.config["CONSTELLATE"]["wiki"])
        with get_store().session() as db:
            suggestion = people.suggest_connect_link(db, wiki, db.merge(login))
    except ConstellateError as exc:  # the login is kept; `people suggest` retries later
        log.warning("people: no suggestion for %s yet: %s", forum_name, exc)
        return _page(
            "Login recorded",
            f"The forum confirmed you are {forum_name}. The wiki could not be asked about"
            f" {wiki_name} just now; a moderator will see the suggestion later.",
        )
    if suggestion is None:
        return _page(
            "Login recorded",
            f"The forum confirmed you are {forum_name}, but the wiki has no account named"
            f" {wiki_name} that could be linked. Check the name and start again.",
        )
    return _page(
        "Thank you",
        f"The forum confirmed you are {forum_name}. A moderator will review the link"
        f" between the wiki account {wiki_name} and the forum account {forum_name}.",
    )


def _secret() -> str | None:
    return configured_secret(current_app.config["CONSTELLATE"]["forum"])


def _not_configured() -> ResponseReturnValue:
    return _page("Not configured", "Linking accounts through the forum is not configured.", 404)


def _page(title: str, text: str, status: int = 200) -> ResponseReturnValue:
    body = PAGE.format(title=escape(title), text=escape(text))
    return body, status, {"Content-Type": "text/html; charset=utf-8"}
