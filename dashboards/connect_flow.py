"""The two halves of a DiscourseConnect login that pages of ours start for people (an
identity claim, the privacy page): the redirect to the forum with a nonce this browser
keeps, and the answer verified, its nonce used up and matched to this browser's."""

from __future__ import annotations

import hmac
from typing import Any

from flask import current_app, redirect, request, session
from flask.typing import ResponseReturnValue

from community.credits import people
from connectors.discourse.connect import connect_request, verified_connect_payload
from core.errors import PermissionDenied
from core.store import get_store


def redirect_to_forum(
    secret: str, nonce: str, session_key: str, callback: str
) -> ResponseReturnValue:
    """Send the browser to the forum's login, remembering the nonce it was given."""
    session[session_key] = nonce
    settings = current_app.config["CONSTELLATE"]
    return_url = settings["service"]["base_url"].rstrip("/") + callback
    query = connect_request(secret, nonce=nonce, return_url=return_url)
    return redirect(f"{settings['forum']['url']}/session/sso_provider?{query}", code=302)


def verified_answer(secret: str, session_key: str, purpose: str) -> tuple[dict[str, Any], str]:
    """The forum's signed answer on this request and what its nonce claimed (a wiki
    username for a link); PermissionDenied for a forged answer, a nonce unknown, used or
    for another purpose, or one started in another browser."""
    fields = verified_connect_payload(
        request.args.get("sso", ""), request.args.get("sig", ""), secret
    )
    # Only a genuine answer ends the browser's attempt; a forged one changes nothing.
    started_here = session.pop(session_key, None)
    with get_store().session() as db:  # used up before anything else can fail
        claimed = people.claim_connect_nonce(db, fields["nonce"], purpose)
    if not isinstance(started_here, str) or not hmac.compare_digest(
        started_here.encode(), fields["nonce"].encode()
    ):
        raise PermissionDenied(
            "DiscourseConnect answer refused: this login was started in another browser",
            platform="forum",
            code="bad_nonce",
        )
    return fields, claimed
