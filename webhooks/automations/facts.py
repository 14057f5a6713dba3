"""The facts of one event: what conditions test and templates name.

Facts come from the event's payload, from the store (activity, people, constellation
links) and, only when a rule asks for them, from the forum (a topic's tags, an author's
groups). A fact whose value is not known is left out, never guessed: a condition on it
then fails and a template naming it fails its action.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from community.activity import PRIVATE_MESSAGE, ForumPostActivity, WikiChangeActivity
from community.constellations.charter import page_url
from community.constellations.models import PageTopicLink
from community.credits.models import Account, Person
from community.health.scope import CONSTELLATION
from community.partners.names import Organisations
from connectors.discourse.client import ForumClient
from connectors.discourse.records import Topic, User, tag_names
from core.config import Settings
from core.errors import NotFound
from core.events import Event
from core.times import parse_time
from webhooks.automations.related import related_markdown
from webhooks.automations.templates import Trusted
from webhooks.automations.vocabulary import (
    ALERT_RAISED,
    ALERT_RESOLVED,
    CONSTELLATION_FACTS,
    PRACTICE_ADOPTED,
    STATUS_CHANGED,
    TRUSTED_FACTS,
    Facts,
)

Lazy = Callable[[], Any]


def gather(
    event: Event,
    session: Session,
    settings: Settings,
    *,
    forum: Callable[[], ForumClient] | None,
) -> Facts:
    """Every fact ``event`` offers; forum lookups wait until a fact needs them. Without
    ``forum`` (a dry run on a dashboard page) facts only the forum knows stay unknown."""
    payload = event.payload
    values: dict[str, Any] = {
        "event_kind": event.kind,
        "event_id": event.event_id,
        "subject": event.subject,
        "actor": event.actor,
        "occurred_at": event.occurred_at.isoformat(),
        "service_url": str(settings["service"]["base_url"]),
    }
    given = payload.get("facts")
    if isinstance(given, Mapping):  # the scheduler's own facts of schedule.* events
        values.update(given)
    lazy: dict[str, Lazy] = {}
    forum_url = str(settings["forum"].get("url") or "").rstrip("/")
    post = _post_of(event)
    if post is not None:
        values.update(_post_facts(post, forum_url))
        values.update(_post_history(session, settings, post, event.occurred_at))
    elif event.kind.startswith("forum.") and isinstance(payload.get("topic"), Mapping):
        values.update(_topic_facts(payload["topic"], forum_url))
    elif event.kind.startswith("wiki.") and payload.get("title"):
        values.update(_wiki_facts(session, settings, event))
    elif event.kind in (ALERT_RAISED, ALERT_RESOLVED):
        values.update(_alert_facts(event))
    elif event.kind == PRACTICE_ADOPTED:
        values.update(_adoption_facts(settings, payload))
    elif event.kind == STATUS_CHANGED:
        values["old_status"] = payload.get("old_status")
        values["new_status"] = payload.get("new_status")

    lookups = _Lookups(forum)
    if values.get("topic_id") is None and payload.get("topic_id") is not None:
        values["topic_id"] = int(payload["topic_id"])  # schedule.topic_unanswered
    if values.get("topic_id") is not None:
        lazy.update(_topic_lookups(session, values, lookups, int(values["topic_id"]), forum_url))
    author = values.get("author")
    if author and (post is not None or event.kind.startswith("forum.")):
        lazy["groups"] = lambda: _group_names(lookups.user(str(author)))
        lazy["trust_level"] = lambda: _trust_level(lookups.user(str(author)))
        values.update(_organisation_facts(session, "forum", str(author)))
    if post is not None or (event.kind.startswith("forum.") and "topic_id" in values):
        text = values.get("text")
        if isinstance(text, str) and text:
            lazy["related_practices"] = lambda: related_markdown(session, settings, text)

    link = _constellation_link(session, event, values)
    if link is not None:
        for key, value in constellation_facts(session, settings, link).items():
            values.setdefault(key, value)
    elif values.get("category_id") is None and values.get("topic_id") is not None:
        # Only the forum knows the topic's category: the constellation waits for it.
        lazy.update(_lazy_constellation(session, settings, lookups, int(values["topic_id"])))
    return Facts(
        {key: _trusted(key, value) for key, value in values.items()},
        {key: _trusting(key, function) for key, function in lazy.items()},
    )


def constellation_facts(
    session: Session, settings: Settings, link: PageTopicLink
) -> dict[str, Any]:
    """The facts of the constellation a link joins (its charter as last synced)."""
    charter: Mapping[str, Any] = link.charter or {}
    lead = charter.get("lead_partner")
    return {
        "constellation": link.wiki_title,
        "page_title": link.wiki_title,
        "page_url": page_url(settings, link.wiki_title),
        "lead_partner": lead,
        "lead_group": Organisations.read(session).group_of(lead) if lead else None,
        "partners": list(charter["partners"]) if "partners" in charter else None,
        "stewards": list(charter["stewards"]) if "stewards" in charter else None,
        "status": charter.get("status") or link.charter_status,
        "beat": charter.get("beat"),
        "constellation_category_id": link.forum_category_id,
    }


# -- forum --------------------------------------------------------------------------------


class _Lookups:
    """Forum reads shared by the lazy facts of one event: each made at most once. Without
    a forum every read finds nothing."""

    def __init__(self, forum: Callable[[], ForumClient] | None) -> None:
        self._forum = forum
        self.topic = functools.cache(self._topic)
        self.user = functools.cache(self._user)
        self.category_names = functools.cache(self._category_names)

    def _topic(self, topic_id: int) -> Topic | None:
        if self._forum is None:
            return None
        try:
            return self._forum().get_topic(topic_id)
        except NotFound:
            return None

    def _user(self, username: str) -> User | None:
        if self._forum is None:
            return None
        try:
            return self._forum().get_user(username)
        except NotFound:
            return None

    def _category_names(self) -> dict[int, str]:
        if self._forum is None:
            return {}
        return {category.id: category.name for category in self._forum().categories()}


def _post_of(event: Event) -> Mapping[str, Any] | None:
    """The post a forum event is about (a post, a like's post, an accepted solution)."""
    if not event.kind.startswith("forum."):
        return None
    payload = event.payload
    for candidate in (
        payload.get("post"),
        payload.get("solved"),
        (payload.get("like") or {}).get("post"),
    ):
        if isinstance(candidate, Mapping) and candidate.get("topic_id") is not None:
            return candidate
    return None


def _post_facts(post: Mapping[str, Any], forum_url: str) -> dict[str, Any]:
    topic_id = int(post["topic_id"])
    number = post.get("post_number")
    slug = post.get("topic_slug") or "-"
    private = post.get("topic_archetype")
    return {
        "topic_id": topic_id,
        "topic_title": post.get("topic_title"),
        "category_id": post.get("category_id"),
        "post_id": int(post["id"]) if post.get("id") is not None else None,
        "post_number": int(number) if number is not None else None,
        "author": post.get("username"),
        "author_name": post.get("name") or post.get("username"),
        "text": post.get("raw"),
        "trust_level": post.get("trust_level"),
        "is_original_post": int(number) == 1 if number is not None else None,
        "is_private": private == PRIVATE_MESSAGE if private is not None else None,
        "topic_url": _topic_url(forum_url, slug, topic_id),
        "post_url": _topic_url(forum_url, slug, topic_id, number) if number else None,
    }


def _topic_facts(topic: Mapping[str, Any], forum_url: str) -> dict[str, Any]:
    topic_id = int(topic["id"])
    creator = topic.get("created_by") or {}
    archetype = topic.get("archetype")
    return {
        "topic_id": topic_id,
        "topic_title": topic.get("title"),
        "category_id": topic.get("category_id"),
        "tags": list(tag_names(topic["tags"])) if "tags" in topic else None,
        "author": creator.get("username"),
        "author_name": creator.get("name") or creator.get("username"),
        "text": topic.get("title"),
        "is_private": archetype == PRIVATE_MESSAGE if archetype is not None else None,
        "topic_url": _topic_url(forum_url, topic.get("slug"), topic_id),
    }


def _post_history(
    session: Session, settings: Settings, post: Mapping[str, Any], occurred: datetime
) -> dict[str, Any]:
    """is_first_post, is_newcomer and idle_hours from the activity record (which already
    holds this post), and is_private from it when the payload does not say."""
    facts: dict[str, Any] = {}
    username, post_id = post.get("username"), post.get("id")
    if not username or post_id is None:
        return facts
    created = parse_time(post.get("created_at")) or occurred
    rows = ForumPostActivity
    own = session.scalars(select(rows).where(rows.post_id == int(post_id))).first()
    if own is not None and post.get("topic_archetype") is None:
        facts["is_private"] = own.private
    # Earlier: before this post, or at the same moment with a smaller id.
    earlier = session.scalars(
        select(rows.created_at)
        .where(
            rows.username == str(username),
            rows.deleted.is_(False),
            rows.private.is_(False),
            or_(
                rows.created_at < created,
                and_(rows.created_at == created, rows.post_id < int(post_id)),
            ),
        )
        .order_by(rows.created_at, rows.post_id)
        .limit(1)
    ).first()
    facts["is_first_post"] = earlier is None
    first_at = created if earlier is None else earlier
    newcomer_days = float(settings["automations"]["newcomer_days"])
    facts["is_newcomer"] = (occurred - first_at).total_seconds() <= newcomer_days * 86400
    number = post.get("post_number")
    if number is not None:
        previous = session.scalars(
            select(rows.created_at)
            .where(
                rows.topic_id == int(post["topic_id"]),
                rows.post_number < int(number),
                rows.deleted.is_(False),
            )
            .order_by(rows.post_number.desc())
            .limit(1)
        ).first()
        if previous is not None:
            facts["idle_hours"] = _hours(created - previous)
    return facts


def _topic_lookups(
    session: Session, values: Mapping[str, Any], lookups: _Lookups, topic_id: int, forum_url: str
) -> dict[str, Lazy]:
    def topic() -> Topic | None:
        return lookups.topic(topic_id)

    def category_id() -> int | None:
        known = values.get("category_id")
        if known is not None:
            return int(known)
        found = topic()
        return found.category_id if found else None

    def category() -> str | None:
        wanted = category_id()
        if wanted is None:
            return None
        kept = session.scalars(
            select(PageTopicLink.category_name).where(
                PageTopicLink.forum_category_id == wanted,
                PageTopicLink.category_name.is_not(None),
            )
        ).first()
        return kept or lookups.category_names().get(wanted)

    def url() -> str | None:
        found = topic()
        return _topic_url(forum_url, found.slug, topic_id) if found else None

    return {
        "topic_title": lambda: found.title if (found := topic()) else None,
        "tags": lambda: list(found.tags) if (found := topic()) else None,
        "category_id": category_id,
        "category": category,
        "topic_url": url,
    }


def _lazy_constellation(
    session: Session, settings: Settings, lookups: _Lookups, topic_id: int
) -> dict[str, Lazy]:
    @functools.cache
    def facts() -> dict[str, Any]:
        found = lookups.topic(topic_id)
        if found is None or found.category_id is None:
            return {}
        link = _link_of_category(session, found.category_id)
        return constellation_facts(session, settings, link) if link else {}

    def fact(name: str) -> Lazy:
        return lambda: facts().get(name)

    return {name: fact(name) for name in sorted(CONSTELLATION_FACTS)}


def _group_names(user: User | None) -> list[str] | None:
    if user is None:
        return None
    return [str(group["name"]) for group in user.data.get("groups") or () if group.get("name")]


def _trust_level(user: User | None) -> int | None:
    return user.trust_level if user is not None else None


# -- wiki, alerts, practices ---------------------------------------------------------------


def _wiki_facts(session: Session, settings: Settings, event: Event) -> dict[str, Any]:
    payload = event.payload
    title = str(payload["title"])
    facts: dict[str, Any] = {
        "page_title": title,
        "page_url": page_url(settings, title),
        "author": payload.get("user"),
        "revid": payload.get("revid") or None,
        "comment": payload.get("comment"),
        "text": payload.get("comment"),
    }
    changes = WikiChangeActivity
    previous = session.scalars(
        select(changes.timestamp)
        .where(changes.title == title, changes.timestamp < event.occurred_at)
        .order_by(changes.timestamp.desc())
        .limit(1)
    ).first()
    if previous is not None:
        facts["idle_hours"] = _hours(event.occurred_at - previous)
    if payload.get("user"):
        facts.update(_organisation_facts(session, "wiki", str(payload["user"])))
    return facts


def _alert_facts(event: Event) -> dict[str, Any]:
    payload = event.payload
    return {
        "alert_id": payload.get("id"),
        "alert_rule": payload.get("rule"),
        "alert_title": payload.get("title"),
        "alert_message": payload.get("message"),
        "alert_state": "raised" if event.kind == ALERT_RAISED else "resolved",
        "metric": payload.get("metric"),
        "value": payload.get("value"),
        "threshold": payload.get("threshold"),
        "scope": payload.get("scope"),
        "scope_label": payload.get("label"),
    }


def _adoption_facts(settings: Settings, payload: Mapping[str, Any]) -> dict[str, Any]:
    title = payload.get("title")
    return {
        "practice": title,
        "practice_url": page_url(settings, str(title)) if title else None,
        "practice_tag": payload.get("tag"),
        "organisation": payload.get("organisation"),
        "originating_organisation": payload.get("originating_organisation") or None,
    }


def _organisation_facts(session: Session, platform: str, username: str) -> dict[str, Any]:
    """The organisation (full name) of the account's person, and its forum group."""
    person = session.scalars(
        select(Person)
        .join(Account, Account.person_id == Person.id)
        .where(Account.platform == platform, Account.username == username)
    ).first()
    if person is None or not person.organisation:
        return {}
    return {
        "organisation": person.organisation,
        "organisation_group": Organisations.read(session).group_of(person.organisation),
    }


# -- constellations -----------------------------------------------------------------------


def _constellation_link(
    session: Session, event: Event, values: Mapping[str, Any]
) -> PageTopicLink | None:
    payload = event.payload
    if values.get("category_id") is not None and event.kind.startswith("forum."):
        return _link_of_category(session, int(values["category_id"]))
    page_id = payload.get("page_id") or payload.get("pageid")
    if event.kind in (ALERT_RAISED, ALERT_RESOLVED):
        kind, _, ident = str(payload.get("scope") or "").partition(":")
        page_id = int(ident) if kind == CONSTELLATION and ident.isdigit() else None
    links = PageTopicLink
    if page_id:
        found = session.scalars(select(links).where(links.wiki_page_id == int(page_id))).first()
        if found is not None:
            return found
    if event.kind.startswith("wiki.") and payload.get("title"):
        return session.scalars(
            select(links).where(links.wiki_title == str(payload["title"]))
        ).first()
    if values.get("category_id") is not None:
        return _link_of_category(session, int(values["category_id"]))
    return None


def _link_of_category(session: Session, category_id: int) -> PageTopicLink | None:
    return session.scalars(
        select(PageTopicLink).where(
            PageTopicLink.forum_category_id == category_id,
            PageTopicLink.archived_at.is_(None),
        )
    ).first()


# -- values -------------------------------------------------------------------------------


def _topic_url(
    forum_url: str, slug: str | None, topic_id: int, post_number: int | None = None
) -> str | None:
    """Discourse's topic (or post) address; the slug is decoration ("-" does as well)."""
    if not forum_url:
        return None
    tail = f"/{post_number}" if post_number else ""
    return f"{forum_url}/t/{slug or '-'}/{topic_id}{tail}"


def _hours(delta: Any) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _is_trusted(key: str) -> bool:
    return key.endswith("_url") or key in TRUSTED_FACTS


def _trusted(key: str, value: Any) -> Any:
    """URLs and Constellate's own Markdown go into templates as they are."""
    if _is_trusted(key) and isinstance(value, str) and not isinstance(value, Trusted):
        return Trusted(value)
    return value


def _trusting(key: str, function: Lazy) -> Lazy:
    return lambda: _trusted(key, function())
