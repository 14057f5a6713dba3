"""Health alerts: raised, kept up to date and resolved from a scope's computed health, and
told to people: recorded in the inbox (the worker offers each to outgoing subscribers, as
it does every event) and posted on the forum.

``apply_alerts`` runs after each recompute of a scope. ``notify`` then tells the forum
about every alert not told yet; it may be called any time, and again after a crash:
topics and messages are created exactly once by external id, and a resolution reply
already in a topic is not posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from community.health.models import HealthAlert
from community.health.scope import CONSTELLATION, ScopeHealth
from community.health.thresholds import (
    Rule,
    Thresholds,
    decide,
    figure_words,
    format_figure,
    load_thresholds,
)
from connectors.discourse.client import ForumClient
from core import event_kinds
from core.config import Settings
from core.errors import ConfigError, ConnectorError, Unavailable
from core.events import Event
from core.inbox import record

log = logging.getLogger(__name__)

OPEN, CLOSED = "open", "resolved"
TITLE_MAX = 255  # Discourse's default max_topic_title_length


def apply_alerts(
    session: Session,
    settings: Settings,
    health: ScopeHealth,
    thresholds: Thresholds | None = None,
) -> list[HealthAlert]:
    """Raise, update or resolve the alerts of every rule on ``health.scope``.

    Each raise and resolve is recorded in the inbox in the caller's transaction. An
    open alert of a rule no longer in the thresholds resolves. Returns the alerts that
    changed: raised, resolved, or open with a new value.
    """
    thresholds = thresholds or load_thresholds(settings)
    open_alerts = {
        alert.rule: alert
        for alert in session.scalars(
            select(HealthAlert).where(HealthAlert.scope == health.scope, HealthAlert.state == OPEN)
        )
    }
    changed: list[HealthAlert] = []
    for rule in thresholds.rules.values():
        alert = open_alerts.pop(rule.name, None)
        decision = decide(rule, health, alert is not None)
        if decision == "raise":
            changed.append(_raise(session, rule, health))
        elif alert is not None and decision == "clear":
            _resolve(session, alert, health, rule.title, _resolution(rule, health))
            changed.append(alert)
        elif alert is not None and _update(alert, rule, health):
            changed.append(alert)
    for alert in open_alerts.values():
        reason = f"Resolved: the alert {alert.rule} is no longer among the alert rules."
        _resolve(session, alert, health, alert.rule, reason)
        changed.append(alert)
    return changed


def _raise(session: Session, rule: Rule, health: ScopeHealth) -> HealthAlert:
    value = rule.value(health)
    alert = HealthAlert(
        rule=rule.name,
        scope=health.scope,
        label=health.label,
        lead_group=health.lead_group,
        state=OPEN,
        metric=rule.metric,
        window_days=rule.window_days,
        value=value,
        threshold=rule.raise_at,
        message=raised_message(rule, health.label, value),
        raised_at=health.computed_at,
        updated_at=health.computed_at,
    )
    session.add(alert)
    session.flush()  # the id names the event and, later, the forum topic
    _announce(session, alert, event_kinds.ALERT_RAISED, rule.title, health.computed_at)
    return alert


def _update(alert: HealthAlert, rule: Rule, health: ScopeHealth) -> bool:
    """Keep an open alert's value and label current; True when the value changed."""
    alert.updated_at = health.computed_at
    alert.label = health.label
    alert.lead_group = health.lead_group
    value = rule.value(health)
    if value is None or value == alert.value:
        return False
    alert.value = value
    alert.message = raised_message(rule, health.label, value)
    return True


def _resolve(
    session: Session,
    alert: HealthAlert,
    health: ScopeHealth,
    title: str,
    message: str,
) -> None:
    value = health.figure(alert.window_days, alert.metric)
    if isinstance(value, int | float) and not isinstance(value, bool):
        alert.value = float(value)
    alert.state = CLOSED
    alert.message = message
    alert.resolved_at = alert.updated_at = health.computed_at
    session.flush()  # the open-alert index must free (rule, scope) for a later raise
    _announce(session, alert, event_kinds.ALERT_RESOLVED, title, health.computed_at)


def _announce(
    session: Session,
    alert: HealthAlert,
    kind: str,
    title: str,
    at: datetime,
) -> None:
    """Record the raise or the resolve in the inbox, once per alert and kind: automation
    rules see it there, and the worker offers it to outgoing subscribers as it does every
    event (core/event_kinds.py announces alerts even though no handler acts on them)."""
    happened = "raised" if kind == event_kinds.ALERT_RAISED else "resolved"
    event = Event(
        event_id=f"health:alert:{alert.id}:{happened}",
        kind=kind,
        source="health",
        subject=alert.scope,
        actor=None,
        occurred_at=at,
        delivery_id=None,
        payload={
            "id": alert.id,
            "rule": alert.rule,
            "scope": alert.scope,
            "label": alert.label,
            "metric": alert.metric,
            "window_days": alert.window_days,
            "value": alert.value,
            "threshold": alert.threshold,
            "title": title,
            "message": alert.message,
            "raised_at": alert.raised_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        },
    )
    record(session, event)


# -- words -------------------------------------------------------------------------------


def raised_message(rule: Rule, label: str, value: float | None) -> str:
    """One line: what is wrong where, and the figure against its threshold."""
    side = "or more" if rule.direction == "high" else "or less"
    return (
        f"{rule.title} in {label}: {figure_words(rule.metric)} over the last "
        f"{rule.window_days} days is {format_figure(rule.metric, value)} (the alert is "
        f"raised at {format_figure(rule.metric, rule.raise_at)} {side})."
    )


def _resolution(rule: Rule, health: ScopeHealth) -> str:
    if not rule.applies_to(health):
        state = f" is now {health.status}" if health.status else " has changed"
        return f"Resolved: {health.label}{state}, so this alert no longer applies."
    return (
        f"Resolved: {figure_words(rule.metric)} in {health.label} is back to "
        f"{format_figure(rule.metric, rule.value(health))} over the last "
        f"{rule.window_days} days."
    )


def topic_title(title: str, alert: HealthAlert, *, to_leads: bool = False) -> str:
    """Unique per alert and place (forums refuse duplicate titles, some even between a
    topic and a message); a long label is shortened."""
    tail = f" (alert {alert.id}, for the leads)" if to_leads else f" (alert {alert.id})"
    room = TITLE_MAX - len(title) - len(tail) - 2
    label = alert.label if len(alert.label) <= room else alert.label[: max(room - 1, 0)] + "…"
    return f"{title}: {label}{tail}"


def topic_body(alert: HealthAlert, advice: str) -> str:
    parts = [alert.message]
    if advice:
        parts.append(advice)
    parts.append(
        f"_Raised on {alert.raised_at:%d %B %Y} by Constellate. A reply here follows when "
        "the figure recovers._"
    )
    return "\n\n".join(parts)


# -- telling the forum -------------------------------------------------------------------


def notify(
    session: Session,
    forum: ForumClient,
    settings: Settings,
    thresholds: Thresholds | None = None,
) -> int:
    """Tell the forum about every alert not told yet; returns how many posts it made.

    Open alerts become a topic in ``health.moderators_category`` and, with
    ``health.message_lead_group``, a message to the constellation's lead group (kept on
    the alert when it was raised). Resolved alerts get a "Resolved" reply
    in each topic they were told in. A forum failure leaves that alert for next time.
    """
    config = settings["health"]
    thresholds = thresholds or load_thresholds(settings)
    category_name = str(config.get("moderators_category") or "")
    category_id: int | None = None
    made = 0
    for alert in session.scalars(_untold(config)).all():
        rule = thresholds.rules.get(alert.rule)
        try:
            if alert.state == OPEN:
                if category_name and alert.forum_topic_id is None:
                    if category_id is None:
                        category_id = _category_id(forum, category_name)
                    made += _post_topic(forum, alert, rule, category_id)
                group = alert.lead_group
                if (
                    config.get("message_lead_group")
                    and group
                    and alert.scope.startswith(f"{CONSTELLATION}:")
                    and alert.group_message_topic_id is None
                ):
                    made += _message_group(forum, alert, rule, group)
            else:
                made += _post_resolution(forum, alert)
        except Unavailable as exc:  # the forum is down: the rest waits for the next call
            log.warning("health alerts: the forum is unavailable (%s)", exc)
            break
        except ConnectorError as exc:  # this alert was refused: tell the others
            log.warning("health alert %s: the forum refused it (%s)", alert.id, exc)
        session.flush()
    return made


def _untold(config: Mapping[str, Any]) -> Select[HealthAlert]:
    want_topic = bool(config.get("moderators_category"))
    want_message = bool(config.get("message_lead_group"))
    untold_open = [HealthAlert.forum_topic_id.is_(None)] if want_topic else []
    if want_message:
        untold_open.append(HealthAlert.group_message_topic_id.is_(None))
    conditions = [
        and_(HealthAlert.state == CLOSED, HealthAlert.resolution_posted.is_(False)),
    ]
    if untold_open:
        conditions.append(and_(HealthAlert.state == OPEN, or_(*untold_open)))
    return select(HealthAlert).where(or_(*conditions)).order_by(HealthAlert.id)


def _category_id(forum: ForumClient, name: str) -> int:
    wanted = name.strip().casefold()
    found = [c for c in forum.categories() if c.name.strip().casefold() == wanted]
    if not found:
        raise ConfigError(
            f"health.moderators_category: the forum has no category named {name!r} "
            "(create it, or set the name of an existing one)"
        )
    found.sort(key=lambda c: (c.parent_category_id is not None, c.id))  # top level first
    return found[0].id


def _post_topic(forum: ForumClient, alert: HealthAlert, rule: Rule | None, category: int) -> int:
    title = rule.title if rule else alert.rule
    created = forum.create_topic(
        topic_title(title, alert),
        topic_body(alert, rule.advice if rule else ""),
        category_id=category,
        external_id=f"constellate-alert-{alert.id}",
    )
    alert.forum_topic_id = created.topic_id
    return int(created.created)


def _message_group(forum: ForumClient, alert: HealthAlert, rule: Rule | None, group: str) -> int:
    title = rule.title if rule else alert.rule
    created = forum.send_message(
        topic_title(title, alert, to_leads=True),
        topic_body(alert, rule.advice if rule else ""),
        [group],
        external_id=f"constellate-alert-{alert.id}-g",
    )
    alert.group_message_topic_id = created.topic_id
    return int(created.created)


def _post_resolution(forum: ForumClient, alert: HealthAlert) -> int:
    """Reply with the alert's resolution in each topic it was told in, once."""
    made = 0
    for topic_id in (alert.forum_topic_id, alert.group_message_topic_id):
        if topic_id is None or _already_replied(forum, topic_id, alert.message):
            continue
        forum.reply(topic_id, alert.message)
        made += 1
    alert.resolution_posted = True
    return made


def _already_replied(forum: ForumClient, topic_id: int, raw: str) -> bool:
    """Whether we posted ``raw`` in the topic before (a call that crashed after replying
    but before its transaction committed)."""
    ours = forum.username.casefold()
    return any(
        post.username.casefold() == ours and (post.raw or "").strip() == raw.strip()
        for post in forum.get_topic(topic_id).posts
    )
