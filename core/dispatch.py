"""The dispatch table: event kind -> handlers, and the kinds ignored on purpose.

Every kind a normaliser can produce (their ``KINDS``) is in exactly one of the two;
tests/test_dispatch.py fails otherwise. Later issues move kinds from IGNORED to
HANDLERS as domain handlers arrive.
"""

from __future__ import annotations

from collections.abc import Mapping

from community import activity, sync_events
from community.credits import forum_credit, wiki_credit
from community.health import handlers as health
from community.practices import candidates
from community.practices import handlers as practice_handlers
from core.handling import Handler
from dashboards import handlers as dashboard_practices
from dashboards import sync_handlers as dashboard_sync
from webhooks.automations import vocabulary as automations


class UnknownKind(LookupError):
    """An event kind that is neither handled nor ignored on purpose."""


# Activity and credit first: the wiki sections show the activity rows and the credit,
# including this event's; the candidate check counts the activity rows too.
# Health after the activity it reads, before the wiki section that shows its summary.
_POST = (
    activity.record_post,
    forum_credit.credit_post,
    health.update_health,
    sync_events.refresh_wiki_section,
)
_POST_FIRST = (candidates.suggest_on_post, practice_handlers.tag_forum_topic)
_TOPIC = (
    activity.record_topic,
    health.update_health,
    sync_events.refresh_wiki_section,
    practice_handlers.tag_forum_topic,
)
_WIKI = (activity.record_wiki_change,)
_WIKI_PAGE = (
    activity.record_wiki_change,
    wiki_credit.credit_wiki_change,
    sync_events.sync_wiki_page,
    practice_handlers.sync_practice,
)

HANDLERS: Mapping[str, tuple[Handler, ...]] = {
    "forum.post_created": (*_POST, *_POST_FIRST),
    "forum.post_edited": (*_POST, practice_handlers.tag_forum_topic),
    "forum.post_destroyed": (
        activity.record_post,
        forum_credit.cancel_post,
        health.update_health,
        sync_events.refresh_wiki_section,
    ),
    "forum.post_recovered": _POST,
    "forum.post_liked": (forum_credit.credit_like,),
    "forum.accepted_solution": (forum_credit.credit_solution,),
    "forum.unaccepted_solution": (forum_credit.cancel_solution,),
    "community.practice_adopted": (forum_credit.credit_adoption,),
    "forum.topic_created": _TOPIC,
    "forum.topic_edited": _TOPIC,
    "forum.topic_destroyed": (
        activity.record_topic,
        forum_credit.cancel_topic,
        health.update_health,
        sync_events.refresh_wiki_section,
    ),
    "forum.topic_recovered": (
        activity.record_topic,
        forum_credit.restore_topic,
        health.update_health,
        sync_events.refresh_wiki_section,
    ),
    health.SCHEDULE_KIND: (health.recompute_on_schedule,),
    "wiki.edit": _WIKI_PAGE,
    "wiki.new": _WIKI_PAGE,
    "wiki.move": _WIKI_PAGE,
    "wiki.delete": _WIKI_PAGE,
    "wiki.restore": _WIKI_PAGE,
    "wiki.log": _WIKI,
    "wiki.reconcile": _WIKI_PAGE,
    # What moderators ask for on the dashboard, done by the worker.
    **{kind: tuple(found) for kind, found in dashboard_sync.HANDLERS.items()},
    **{kind: tuple(found) for kind, found in dashboard_practices.HANDLERS.items()},
}

# No domain handler: read and validated (so the payloads are known good); automation
# rules still see them, as they see every kind. The automations' own kinds are here too.
IGNORED: frozenset[str] = frozenset(
    {
        *automations.KINDS,
        "forum.user_created",
        "forum.user_updated",
        "forum.user_badge_granted",
        "forum.user_badge_revoked",
        "forum.user_added_to_group",
        "forum.user_removed_from_group",
    }
)


def handlers_for(kind: str) -> tuple[Handler, ...]:
    """The handlers of ``kind`` (empty when ignored on purpose); UnknownKind otherwise."""
    if kind in IGNORED:
        return ()
    if kind not in HANDLERS:
        raise UnknownKind(kind)
    return HANDLERS[kind]
