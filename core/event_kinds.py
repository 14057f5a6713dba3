"""Every event kind: what it means, what produces it and what handles it.

The one place a kind is spelled. Producers and handlers use the constants below; the
dispatch table (service/dispatch.py) is built from ``CATALOGUE``, automation triggers
read which kinds rules may name, and docs/events.md is written from it
(``python -m core.event_kinds``; a test keeps it current).

Handlers are named by their dotted path, in the order they run: the foundation names
them and imports none of them; the wiring resolves the names. A kind nobody handles says
why (``ignored``), so a new kind is a decision, never an accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# -- the forum: webhooks (webhooks/incoming/discourse_events.py) and the poll -------------

FORUM_POST_CREATED = "forum.post_created"
FORUM_POST_EDITED = "forum.post_edited"
FORUM_POST_DESTROYED = "forum.post_destroyed"
FORUM_POST_RECOVERED = "forum.post_recovered"
FORUM_TOPIC_CREATED = "forum.topic_created"
FORUM_TOPIC_EDITED = "forum.topic_edited"
FORUM_TOPIC_DESTROYED = "forum.topic_destroyed"
FORUM_TOPIC_RECOVERED = "forum.topic_recovered"
FORUM_USER_CREATED = "forum.user_created"
FORUM_USER_UPDATED = "forum.user_updated"
FORUM_POST_LIKED = "forum.post_liked"
FORUM_SOLUTION_ACCEPTED = "forum.accepted_solution"
FORUM_SOLUTION_UNACCEPTED = "forum.unaccepted_solution"
FORUM_BADGE_GRANTED = "forum.user_badge_granted"
FORUM_BADGE_REVOKED = "forum.user_badge_revoked"
FORUM_USER_ADDED_TO_GROUP = "forum.user_added_to_group"
FORUM_USER_REMOVED_FROM_GROUP = "forum.user_removed_from_group"

# -- the wiki: recent changes, polled or pushed (webhooks/incoming/wiki_events.py) ---------

WIKI_EDIT = "wiki.edit"
WIKI_NEW = "wiki.new"
WIKI_MOVE = "wiki.move"
WIKI_DELETE = "wiki.delete"
WIKI_RESTORE = "wiki.restore"
WIKI_LOG = "wiki.log"
WIKI_RECONCILE = "wiki.reconcile"

# -- made by Constellate ------------------------------------------------------------------

HEALTH_RECOMPUTE = "schedule.health_recompute"  # payload: every_minutes
CRON = "schedule.cron"  # payload: rule, slot (ISO time in the partnership's zone)
BEAT_STARTED = "schedule.beat_started"  # payload: page_id, beat_number, beat_start, ..., facts
TOPIC_UNANSWERED = "schedule.topic_unanswered"  # payload: topic_id, hours, facts
CHARTER_STALE = "schedule.charter_stale"  # payload: page_id, days, active_days, facts
ALERT_RAISED = "health.alert.raised"  # payload: as community.health.alerts._announce
ALERT_RESOLVED = "health.alert.resolved"
PRACTICE_ADOPTED = "community.practice_adopted"  # payload: community.practices.adoption
STATUS_CHANGED = "community.constellation_status_changed"  # page_id, title, old/new_status
SECTION_REFRESH = "schedule.section_refresh"  # payload: page_id
AFFILIATIONS_REFRESH = "schedule.affiliations"  # payload: every_hours
BACKFILL_DUE = "schedule.backfill"  # payload: chunk, sources
BADGES_DUE = "schedule.badges"  # payload: every_hours | after_event | requested_by
SUGGESTIONS_DUE = "schedule.identity_suggestions"  # payload: as BADGES_DUE
PRIVACY_CHANGED = "community.privacy_changed"  # payload: person_id, opted_out, by

# -- asked for by moderators on the dashboard, done by the worker ----------------------------

RESYNC_REQUESTED = "dashboard.resync_requested"
CONFLICT_RESOLVED = "dashboard.conflict_resolved"
PROMOTION_REQUESTED = "dashboard.practice_promotion_requested"

# Outgoing-only kinds: automation rules' ``webhook`` action names its own under this
# prefix; they go to subscribers and never through the inbox.
AUTOMATION_PREFIX = "automation."


@dataclass(frozen=True)
class Kind:
    name: str
    about: str  # one line for docs/events.md
    produced_by: str  # the module that makes events of this kind
    handlers: tuple[str, ...] = ()  # dotted paths, in the order they run
    ignored: str = ""  # why no handler acts on it (handled kinds leave this empty)
    # Automation rules may name it in an ``event`` trigger (moderators' requests are not
    # something that happened on a platform).
    rules: bool = True
    # Offered to outgoing subscribers even when no handler or rule acts on it. Otherwise
    # an event is offered only when something acts on it: unread kinds such as
    # forum.user_created carry personal data no subscriber asked Constellate to relay.
    announce: bool = False


# Handlers shared by several kinds, named once.
_ACTIVITY_POST = "community.activity.record_post"
_ACTIVITY_TOPIC = "community.activity.record_topic"
_ACTIVITY_WIKI = "community.activity.record_wiki_change"
_HEALTH = "community.health.handlers.update_health"
_WIKI_SECTION = "community.constellations.handlers.schedule_section_refresh"
_TAG_TOPIC = "community.practices.handlers.tag_forum_topic"
_CREDIT_POST = "community.credits.forum_credit.credit_post"
_CREDIT_LIKE = "community.credits.forum_credit.credit_like"
_SECTION_BEHIND = "community.constellations.handlers.refresh_sections_behind"
_MEMBERSHIP = "community.partners.affiliation.follow_membership"
_BADGES_SOON = "community.credits.handlers.badges_soon"

# Activity and credit first: the wiki sections show the activity rows and the credit,
# including this event's; the candidate check counts the activity rows too. Health after
# the activity it reads, before the wiki section that shows its summary.
_POST = (_ACTIVITY_POST, _CREDIT_POST, _HEALTH, _WIKI_SECTION)
_TOPIC = (_ACTIVITY_TOPIC, _HEALTH, _WIKI_SECTION, _TAG_TOPIC)
_WIKI_PAGE = (
    _ACTIVITY_WIKI,
    "community.credits.wiki_credit.credit_wiki_change",
    "community.constellations.handlers.sync_wiki_page",
    "community.practices.handlers.sync_practice",
    "community.partners.handlers.sync_partner",
)

_DISCOURSE = "webhooks.incoming.discourse_events"
_WIKI = "webhooks.incoming.wiki_events"
_UNREAD = "read and validated, so the payloads are known good; automation rules see it"
_FOR_RULES = "made for automation rules, which see every kind"

CATALOGUE: tuple[Kind, ...] = (
    Kind(
        FORUM_POST_CREATED,
        "a post was made",
        _DISCOURSE,
        # A reply can make a bridge builder: badges soon (coalesced per interval).
        (*_POST, "community.practices.candidates.suggest_on_post", _TAG_TOPIC, _BADGES_SOON),
    ),
    Kind(FORUM_POST_EDITED, "a post was edited", _DISCOURSE, (*_POST, _TAG_TOPIC)),
    Kind(
        FORUM_POST_DESTROYED,
        "a post was deleted",
        _DISCOURSE,
        (_ACTIVITY_POST, "community.credits.forum_credit.cancel_post", _HEALTH, _WIKI_SECTION),
    ),
    Kind(FORUM_POST_RECOVERED, "a deleted post was restored", _DISCOURSE, _POST),
    Kind(FORUM_TOPIC_CREATED, "a topic was opened", _DISCOURSE, _TOPIC),
    Kind(FORUM_TOPIC_EDITED, "a topic's title, category or tags changed", _DISCOURSE, _TOPIC),
    Kind(
        FORUM_TOPIC_DESTROYED,
        "a topic was deleted",
        _DISCOURSE,
        (_ACTIVITY_TOPIC, "community.credits.forum_credit.cancel_topic", _HEALTH, _WIKI_SECTION),
    ),
    Kind(
        FORUM_TOPIC_RECOVERED,
        "a deleted topic was restored",
        _DISCOURSE,
        (_ACTIVITY_TOPIC, "community.credits.forum_credit.restore_topic", _HEALTH, _WIKI_SECTION),
    ),
    Kind(
        FORUM_POST_LIKED,
        "a post was liked",
        _DISCOURSE,
        ("community.activity.record_like", _CREDIT_LIKE, _SECTION_BEHIND),
    ),
    Kind(
        FORUM_SOLUTION_ACCEPTED,
        "a reply was accepted as the solution",
        _DISCOURSE,
        ("community.credits.forum_credit.credit_solution", _SECTION_BEHIND),
    ),
    Kind(
        FORUM_SOLUTION_UNACCEPTED,
        "an accepted solution was withdrawn",
        _DISCOURSE,
        ("community.credits.forum_credit.cancel_solution", _SECTION_BEHIND),
    ),
    Kind(FORUM_USER_CREATED, "an account was made", _DISCOURSE, ignored=_UNREAD),
    Kind(FORUM_USER_UPDATED, "an account changed", _DISCOURSE, ignored=_UNREAD),
    Kind(FORUM_BADGE_GRANTED, "a badge was granted", _DISCOURSE, ignored=_UNREAD),
    Kind(FORUM_BADGE_REVOKED, "a badge was revoked", _DISCOURSE, ignored=_UNREAD),
    Kind(
        FORUM_USER_ADDED_TO_GROUP, "someone joined a group", _DISCOURSE, (_MEMBERSHIP, _BADGES_SOON)
    ),
    Kind(
        FORUM_USER_REMOVED_FROM_GROUP,
        "someone left a group",
        _DISCOURSE,
        (_MEMBERSHIP, _BADGES_SOON),
    ),
    Kind(WIKI_EDIT, "a page was edited", _WIKI, _WIKI_PAGE),
    Kind(WIKI_NEW, "a page was created", _WIKI, _WIKI_PAGE),
    Kind(WIKI_MOVE, "a page was moved (renamed)", _WIKI, _WIKI_PAGE),
    Kind(WIKI_DELETE, "a page was deleted", _WIKI, _WIKI_PAGE),
    Kind(WIKI_RESTORE, "a deleted page was restored", _WIKI, _WIKI_PAGE),
    Kind(
        WIKI_LOG,
        "any other log entry (uploads, blocks, rights, new accounts…)",
        _WIKI,
        (_ACTIVITY_WIKI, "community.credits.handlers.suggestions_soon"),
    ),
    Kind(
        WIKI_RECONCILE,
        "a page's latest revision, found by a full reconcile after changes were lost",
        _WIKI,
        _WIKI_PAGE,
    ),
    Kind(
        SECTION_REFRESH,
        "a constellation's wiki section is due to be rewritten (one per page and interval)",
        "community.constellations.handlers",
        ("community.constellations.handlers.refresh_section",),
        rules=False,
    ),
    Kind(
        AFFILIATIONS_REFRESH,
        "every partner group's members are due to be read again",
        "community.partners.handlers",
        ("community.partners.handlers.refresh_on_schedule",),
        rules=False,
    ),
    Kind(
        BACKFILL_DUE,
        "the platforms' history is still to be read (the first start, then chunk by chunk)",
        "community.backfill.handlers",
        ("community.backfill.handlers.continue_backfill",),
        rules=False,
    ),
    Kind(
        BADGES_DUE,
        "badges are due to be granted (and revoked for people who opted out): on schedule,"
        " after events that can change them, or asked for on the People page",
        "community.credits.handlers",
        ("community.credits.handlers.award",),
        rules=False,
    ),
    Kind(
        SUGGESTIONS_DUE,
        "identity-link suggestions are due to be refreshed: on schedule, after a new wiki"
        " account, or asked for on the People page",
        "community.credits.handlers",
        ("community.credits.handlers.suggest",),
        rules=False,
    ),
    Kind(
        PRIVACY_CHANGED,
        "a person opted out of being named, or back in (their own page or a moderator)",
        "community.credits.people",
        ("community.credits.handlers.privacy_changed",),
        rules=False,
    ),
    Kind(
        HEALTH_RECOMPUTE,
        "the periodic recompute of every scope's health",
        "community.health.handlers",
        ("community.health.handlers.recompute_on_schedule", _SECTION_BEHIND),
    ),
    Kind(
        CRON,
        "a slot of a rule's cron schedule",
        "webhooks.automations.scheduler",
        ignored=_FOR_RULES,
    ),
    Kind(
        BEAT_STARTED,
        "a beat of an active constellation began",
        "webhooks.automations.beats",
        ignored=_FOR_RULES,
    ),
    Kind(
        TOPIC_UNANSWERED,
        "a constellation's topic had no reply for a rule's hours",
        "webhooks.automations.scans",
        ignored=_FOR_RULES,
    ),
    Kind(
        CHARTER_STALE,
        "a charter went unedited while its category stayed active",
        "webhooks.automations.scans",
        ignored=_FOR_RULES,
    ),
    Kind(
        ALERT_RAISED,
        "a health alert was raised",
        "community.health.alerts",
        ignored="told to the forum where it is raised; automation rules see it",
        announce=True,
    ),
    Kind(
        ALERT_RESOLVED,
        "a health alert resolved itself",
        "community.health.alerts",
        ignored="told to the forum where it resolves; automation rules see it",
        announce=True,
    ),
    Kind(
        PRACTICE_ADOPTED,
        "an organisation adopted another's practice",
        "community.practices.adoption",
        ("community.credits.forum_credit.credit_adoption", _BADGES_SOON),
    ),
    Kind(
        STATUS_CHANGED,
        "a constellation's charter status changed",
        "community.constellations.forum_mirror",
        ignored=_FOR_RULES,
    ),
    Kind(
        RESYNC_REQUESTED,
        "a moderator asked for a resync (Sync page)",
        "community.constellations.requests",
        ("community.constellations.requests.run_resync",),
        rules=False,
    ),
    Kind(
        CONFLICT_RESOLVED,
        "a moderator chose a side of a charter conflict (Sync page)",
        "community.constellations.requests",
        ("community.constellations.requests.apply_resolution",),
        rules=False,
    ),
    Kind(
        PROMOTION_REQUESTED,
        "a moderator asked to promote a topic to a practice (Practices page)",
        "community.practices.promotion_requests",
        ("community.practices.promotion_requests.promote_requested",),
        rules=False,
    ),
)

BY_NAME: dict[str, Kind] = {kind.name: kind for kind in CATALOGUE}


def handled() -> dict[str, tuple[str, ...]]:
    """Kind -> the dotted paths of its handlers, for every kind something acts on."""
    return {kind.name: kind.handlers for kind in CATALOGUE if kind.handlers}


def ignored() -> frozenset[str]:
    """The kinds no handler acts on, on purpose."""
    return frozenset(kind.name for kind in CATALOGUE if not kind.handlers)


def produced_by(module: str) -> frozenset[str]:
    return frozenset(kind.name for kind in CATALOGUE if kind.produced_by == module)


def for_rules() -> frozenset[str]:
    """The kinds an automation rule's ``event`` trigger can name."""
    return frozenset(kind.name for kind in CATALOGUE if kind.rules)


def announced(name: str) -> bool:
    found = BY_NAME.get(name)
    return found is not None and found.announce


def table(kinds: Iterable[Kind] = CATALOGUE) -> str:
    """The catalogue as the Markdown table of docs/events.md."""
    lines = [
        "| kind | what happened | produced by | handled by |",
        "| --- | --- | --- | --- |",
    ]
    for kind in kinds:
        handled_by = "<br>".join(f"`{name}`" for name in kind.handlers) or f"— ({kind.ignored})"
        notes = []
        if kind.announce:
            notes.append("always offered to outgoing subscribers")
        if not kind.rules:
            notes.append("not seen by automation rules")
        about = kind.about + (f" ({'; '.join(notes)})" if notes else "")
        lines.append(f"| `{kind.name}` | {about} | `{kind.produced_by}` | {handled_by} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
