"""Server-side sessions for the dashboard (and every other browser page of the service).

Flask's default session is a signed cookie that cannot be taken back; here the cookie
carries only a random id (256 bits) and the data lives in the store, so logout, expiry
and a lost moderator role end a session for real. A login rotates the id.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete
from werkzeug.datastructures import CallbackDict

from core import clock
from core.store import get_store
from dashboards.models import DashboardSession

SECURE_COOKIE = "__Host-constellate"  # Secure, Path=/, no Domain: browsers insist
PLAIN_COOKIE = "constellate_session"  # for a local http:// address only
TOUCH_EVERY = timedelta(minutes=1)  # idle time is counted to the minute, not per request


class StoreSession(CallbackDict[str, Any], SessionMixin):
    """The session's data, with what happened to it during the request."""

    def __init__(self, data: dict[str, Any] | None = None, sid: str | None = None) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.sid = sid
        self.modified = False
        self.rotate = False
        self.ended = False
        self.row_last_seen: datetime | None = None

    def regenerate(self) -> None:
        """Give the session a new id at the end of this request (after a login)."""
        self.rotate = True
        self.modified = True

    def end(self) -> None:
        """Forget the session: its row and its cookie go at the end of this request."""
        self.clear()
        self.ended = True


def id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def cookie_name(app: Flask) -> str:
    secure = app.config["CONSTELLATE"]["dashboard"]["secure_cookies"]
    return SECURE_COOKIE if secure else PLAIN_COOKIE


def lifetimes(app: Flask) -> tuple[timedelta, timedelta]:
    """(absolute, idle) lifetimes of a session."""
    section = app.config["CONSTELLATE"]["dashboard"]
    return timedelta(hours=section["session_hours"]), timedelta(minutes=section["idle_minutes"])


def create_row(
    app: Flask, data: dict[str, Any], *, now: datetime | None = None
) -> tuple[str, DashboardSession]:
    """A new stored session holding ``data``; returns its id (the cookie value)."""
    now = now or clock.now()
    absolute, _ = lifetimes(app)
    sid = secrets.token_urlsafe(32)
    user = data.get("user") or {}
    row = DashboardSession(
        id_hash=id_hash(sid),
        data=data,
        username=user.get("username"),
        forum_user_id=user.get("forum_user_id"),
        created_at=now,
        last_seen_at=now,
        expires_at=now + absolute,
        role_checked_at=now if user else None,
    )
    return sid, row


# Webhook endpoints authenticate each request by its signature and never use a session.
NO_SESSION_PREFIX = "/webhooks/"


class StoreSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> StoreSession:
        if request.path.startswith(NO_SESSION_PREFIX):
            return StoreSession()  # signed machine deliveries: spare parsing any cookie
        sid = request.cookies.get(cookie_name(app))
        if not sid:
            return StoreSession()
        now = clock.now()
        _, idle = lifetimes(app)
        with get_store().session() as db:
            row = db.get(DashboardSession, id_hash(sid))
            if row is None:
                return StoreSession()
            if row.expires_at <= now or row.last_seen_at + idle <= now:
                db.delete(row)
                return StoreSession()
            session = StoreSession(dict(row.data), sid)
            session.row_last_seen = row.last_seen_at
            return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, StoreSession)
        name = cookie_name(app)
        secure = name == SECURE_COOKIE
        if session.ended or (session.sid and not session and session.modified):
            if session.sid:
                self._delete(session.sid)
            response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
            return
        now = clock.now()
        if session.sid and session.rotate:
            self._delete(session.sid)
            session.sid = None
        if session.sid is None:
            if not session:
                return  # nothing to keep: no row, no cookie for anonymous visitors
            sid, row = create_row(app, dict(session), now=now)
            with get_store().session() as db:
                db.add(row)
            session.sid = sid
        elif session.modified or self._stale(session, now):
            self._update(session.sid, dict(session), now)
        else:
            return
        absolute, _ = lifetimes(app)
        response.set_cookie(
            name,
            session.sid,
            max_age=int(absolute.total_seconds()),
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
        response.vary.add("Cookie")

    @staticmethod
    def _stale(session: StoreSession, now: datetime) -> bool:
        return session.row_last_seen is None or now - session.row_last_seen >= TOUCH_EVERY

    @staticmethod
    def _update(sid: str, data: dict[str, Any], now: datetime) -> None:
        with get_store().session() as db:
            row = db.get(DashboardSession, id_hash(sid))
            if row is not None:  # ended meanwhile (logout elsewhere, lost role): stay ended
                user = data.get("user") or {}
                row.data = data
                row.username = user.get("username")
                row.forum_user_id = user.get("forum_user_id")
                row.last_seen_at = now

    @staticmethod
    def _delete(sid: str) -> None:
        with get_store().session() as db:
            db.execute(delete(DashboardSession).where(DashboardSession.id_hash == id_hash(sid)))


def init_app(app: Flask) -> None:
    app.session_interface = StoreSessionInterface()
