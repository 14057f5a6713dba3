"""A person's own privacy page: they log in with their forum account (DiscourseConnect,
the forum as identity provider) and opt out of being named, or back in. No moderator is
involved; the change is the same as `people opt-out` and the worker does the rest
(badges taken back or granted again, wiki sections rewritten).

The forum's word on who they are is kept in the browser's signed session cookie for
``PROOF_MINUTES`` only; the form carries a CSRF token like every form of the service.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import Session

from community.credits import people
from community.credits.models import Person
from connectors.discourse.connect import (
    configured_secret,
)
from core import clock
from core.errors import PermissionDenied
from core.store import get_store
from core.times import parse_time
from dashboards.connect_flow import redirect_to_forum, verified_answer

log = logging.getLogger(__name__)
bp = Blueprint("privacy", __name__)

PAGE_PATH = "/people/privacy"
CALLBACK_PATH = "/people/privacy/callback"
SESSION_NONCE = "constellate.privacy_nonce"
SESSION_PROOF = "constellate.privacy_proof"
PROOF_MINUTES = 30
TEMPLATE = "dashboard/privacy.html"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get(PAGE_PATH)
def page() -> ResponseReturnValue:
    secret = configured_secret(current_app.config["CONSTELLATE"]["forum"])
    if secret is None:
        return _answer("Not configured", "Logging in through the forum is not configured.", 404)
    username = _proven()
    if username is None:
        with get_store().session() as db:
            nonce = people.start_privacy_login(db)
        return redirect_to_forum(secret, nonce, SESSION_NONCE, CALLBACK_PATH)
    with get_store().session() as db:
        person = _person(db, username)
        opted_out = bool(person.opted_out)
    return _form(username, opted_out)


@bp.get(CALLBACK_PATH)
def callback() -> ResponseReturnValue:
    secret = configured_secret(current_app.config["CONSTELLATE"]["forum"])
    if secret is None:
        return _answer("Not configured", "Logging in through the forum is not configured.", 404)
    try:
        fields, _ = verified_answer(secret, SESSION_NONCE, people.PRIVACY)
        if not fields.get("username") or not fields.get("external_id"):
            raise PermissionDenied(
                "DiscourseConnect answer refused: no forum account named", platform="forum"
            )
    except PermissionDenied as exc:
        log.warning("privacy: %s", exc)
        return _answer("Login refused", str(exc), 403)
    with get_store().session() as db:
        account = people.ensure_account(db, "forum", fields["username"])
        account.external_id = fields["external_id"]
    until = clock.now() + timedelta(minutes=PROOF_MINUTES)
    session[SESSION_PROOF] = {"username": fields["username"], "until": until.isoformat()}
    return redirect(PAGE_PATH, code=303)


@bp.post(PAGE_PATH)
def choose() -> ResponseReturnValue:
    username = _proven()
    if username is None:
        return _answer("Log in again", "Your forum login here has ended; open the page again.", 403)
    wanted = request.form.get("choice")
    if wanted not in ("out", "in"):
        return _answer("Not changed", "Choose to opt out or to be listed again.", 400)
    with get_store().session() as db:
        person = _person(db, username)
        people.set_opt_out(db, person, wanted == "out", by=f"themselves (forum:{username})")
        opted_out = bool(person.opted_out)
    return _form(username, opted_out, changed=True)


def _proven() -> str | None:
    """The forum username this browser proved within PROOF_MINUTES, if any."""
    proof = session.get(SESSION_PROOF)
    if not isinstance(proof, dict):
        return None
    until = parse_time(proof.get("until"))
    if until is None or until <= clock.now():
        session.pop(SESSION_PROOF, None)
        return None
    username = proof.get("username")
    return username if isinstance(username, str) and username else None


def _person(db: Session, username: str) -> Person:
    account = people.ensure_account(db, "forum", username)
    return db.get_one(Person, account.person_id)


def _form(username: str, opted_out: bool, *, changed: bool = False) -> ResponseReturnValue:
    body = render_template(
        TEMPLATE,
        username=username,
        opted_out=opted_out,
        changed=changed,
        csrf=generate_csrf(),
        action=PAGE_PATH,
    )
    return body, 200, {"Content-Type": "text/html; charset=utf-8"}


def _answer(title: str, text: str, status: int = 200) -> ResponseReturnValue:
    body = render_template(TEMPLATE, title=title, text=text)
    return body, status, {"Content-Type": "text/html; charset=utf-8"}
