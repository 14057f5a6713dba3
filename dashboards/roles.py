"""The worker's periodic re-check of dashboard users: a moderator who lost the role (or an
account suspended or deleted) is logged out within ``recheck_minutes``. Expired sessions
are removed at the same time."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from connectors.discourse.admin import ForumAdmin
from core.config import Settings
from core.errors import NotFound
from core.store import Store
from dashboards.auth import may_use_dashboard
from dashboards.models import DashboardSession

log = logging.getLogger("constellate.dashboard.roles")


def recheck_roles(store: Store, settings: Settings, admin: ForumAdmin, *, now: datetime) -> int:
    """Ask the forum about each logged-in user not checked for ``recheck_minutes``; end the
    sessions of those no longer allowed. Returns how many sessions ended."""
    section = settings["dashboard"]
    due = now - timedelta(minutes=section["recheck_minutes"])
    idle = now - timedelta(minutes=section["idle_minutes"])
    with store.session() as db:
        db.execute(
            delete(DashboardSession).where(
                (DashboardSession.expires_at <= now) | (DashboardSession.last_seen_at <= idle)
            )
        )
        user_ids = db.scalars(
            select(DashboardSession.forum_user_id)
            .where(DashboardSession.forum_user_id.is_not(None))
            .where(
                DashboardSession.role_checked_at.is_(None)
                | (DashboardSession.role_checked_at <= due)
            )
            .distinct()
        ).all()
    ended = 0
    for user_id in user_ids:
        assert user_id is not None
        try:
            user = admin.admin_user(user_id)
            fields = {
                "admin": user.admin,
                "moderator": user.moderator,
                "groups": [group["name"] for group in user.data.get("groups") or []],
            }
            allowed = may_use_dashboard(fields, section["allowed_groups"]) and not (
                user.data.get("suspended_at") or user.data.get("active") is False
            )
            who = user.username
        except NotFound:
            allowed, who = False, f"user {user_id}"
        with store.session() as db:
            mine = DashboardSession.forum_user_id == user_id
            if allowed:
                db.execute(update(DashboardSession).where(mine).values(role_checked_at=now))
            else:
                gone = db.scalars(
                    delete(DashboardSession).where(mine).returning(DashboardSession.id_hash)
                )
                ended += len(gone.all())
                log.warning("dashboard: %s may no longer use the dashboard; logged out", who)
    return ended
