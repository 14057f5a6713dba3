"""Forum topics that discuss a practice get its tag.

A topic discusses a practice when its first post links to the practice page (a wiki URL
or ``[[Title]]``), or its title or first post names the practice (its title or an
alias, case-insensitive, whole words), or people already gave it the practice's tag.
Each is recorded once in PracticeTopic; a practice tag that people remove from a topic
stays removed (the row keeps ``removed_at``) until people add it again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import PRIVATE_MESSAGE
from community.practices.models import Practice, PracticeTagName, PracticeTopic
from community.practices.section import refresh_practice_section
from community.practices.stubs import practice_group_tags, suggest_stub_tags, suggest_stubs
from community.practices.summary import PracticeSyncSummary
from connectors.discourse.client import ForumClient
from connectors.discourse.records import tag_names
from connectors.mediawiki import WikiClient
from core import clock
from core.config import Settings
from core.errors import ConnectorError, NotFound, PermissionDenied
from core.store import Store, dialect_insert

URL = re.compile(r"https?://[^\s<>\[\]\"'|]+")
WIKI_LINK = re.compile(r"\[\[\s*:?\s*([^\]\|#\n]+?)\s*(?:[|#][^\]]*)?\]\]")
# A full reconcile reads at most this many pages of the newest posts (50 each), so it
# stays within the forum's admin API budget on a large forum.
RECONCILE_PAGES = 20


@dataclass(frozen=True)
class TopicText:
    """What matching needs of a topic: its id, title, slug, tags and first post."""

    topic_id: int
    title: str
    slug: str
    tags: tuple[str, ...]
    raw: str


def normal_title(title: str) -> str:
    """A wiki title as MediaWiki stores it: spaces, not underscores, first letter upper."""
    text = " ".join(unquote(title).replace("_", " ").split())
    return text[:1].upper() + text[1:]


def linked_titles(text: str, settings: Settings) -> set[str]:
    """Titles of wiki pages ``text`` links to: URLs on our wiki and ``[[...]]`` links."""
    titles = {normal_title(m.group(1)) for m in WIKI_LINK.finditer(text)}
    wiki_host = urlsplit(str(settings["wiki"].get("url") or "")).netloc.lower()
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        while url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        title = _title_from_url(url, wiki_host)
        if title:
            titles.add(title)
    return titles


def find_matches(
    practices: Sequence[Practice], settings: Settings, topic: TopicText
) -> dict[int, str]:
    """page id -> how the topic discusses it: "tag", "link", "title" or "alias"."""
    links = linked_titles(topic.raw, settings)
    text = f"{topic.title}\n{topic.raw}"
    found: dict[int, str] = {}
    for practice in practices:
        if practice.tag in topic.tags:
            found[practice.page_id] = "tag"
        elif practice.title in links:
            found[practice.page_id] = "link"
        elif _names(practice.title, text):
            found[practice.page_id] = "title"
        elif any(_names(alias, text) for alias in practice.aliases or ()):
            found[practice.page_id] = "alias"
    return found


def tag_topic(
    session: Session, wiki: WikiClient, forum: ForumClient, settings: Settings, topic_id: int
) -> int:
    """Read the topic, give it the tags of the practices it discusses and record them;
    refresh the sections of the practices whose list changed. Returns tags added."""
    try:
        topic = forum.get_topic(topic_id)
    except (NotFound, PermissionDenied):
        return 0  # deleted, or not ours to see
    if topic.data.get("archetype") == PRIVATE_MESSAGE:
        return 0
    first = topic.posts[0].raw if topic.posts else ""
    text = TopicText(topic.id, topic.title, topic.slug, topic.tags, first or "")
    added, changed = apply_matches(session, forum, settings, text)
    _suggest_stubs_for(session, forum, settings, topic.tags)
    for page_id in changed:
        practice = session.get(Practice, page_id)
        if practice is not None:
            refresh_practice_section(session, wiki, settings, practice)
    return added


def apply_matches(
    session: Session, forum: ForumClient, settings: Settings, topic: TopicText
) -> tuple[int, set[int]]:
    """Tag the topic and record it; returns (tags added, page ids whose rows changed)."""
    practices = list(session.scalars(select(Practice).where(Practice.deleted_at.is_(None))))
    by_page = {p.page_id: p for p in practices}
    matches = find_matches(practices, settings, topic)
    rows = {
        row.page_id: row
        for row in session.scalars(
            select(PracticeTopic).where(PracticeTopic.topic_id == topic.topic_id)
        )
    }
    changed: set[int] = set()
    now = clock.now()
    for page_id, row in rows.items():
        practice = by_page.get(page_id)
        if practice is None:
            continue
        present = practice.tag in topic.tags
        if row.removed_at is None and not present:
            row.removed_at = now  # people took the tag off: it stays off
            changed.add(page_id)
        elif row.removed_at is not None and present:
            row.removed_at, row.matched_by = None, "tag"  # people put it back
            changed.add(page_id)
        if row.removed_at is None and (row.title, row.slug) != (topic.title, topic.slug):
            row.title, row.slug = topic.title, topic.slug
            changed.add(page_id)
    new = {page_id: how for page_id, how in matches.items() if page_id not in rows}
    missing = [by_page[p].tag for p in new if by_page[p].tag not in topic.tags]
    if missing:
        # The full set: the tags people gave the topic stay.
        forum.update_topic(topic.topic_id, tags=[*topic.tags, *missing])
    for page_id, how in new.items():
        session.execute(
            dialect_insert(session, PracticeTopic)
            .values(
                page_id=page_id,
                topic_id=topic.topic_id,
                title=topic.title[:255],
                slug=topic.slug[:255],
                matched_by=how,
                found_at=now,
            )
            .on_conflict_do_nothing()
        )
        changed.add(page_id)
    session.flush()
    return len(missing), changed


def topic_id_of(kind: str, payload: Mapping[str, Any]) -> int | None:
    """The topic a forum event is about, when it can change what the topic discusses:
    topic events, and post events for a first post; None for private messages."""
    if kind.startswith("forum.topic_"):
        item = payload.get("topic") or {}
        if item.get("archetype") == PRIVATE_MESSAGE:
            return None
        return int(item["id"]) if item.get("id") is not None else None
    item = payload.get("post") or {}
    if int(item.get("post_number") or 0) != 1:
        return None
    if item.get("topic_archetype") == PRIVATE_MESSAGE:
        return None
    return int(item["topic_id"]) if item.get("topic_id") is not None else None


def worth_reading(
    session: Session, settings: Settings, payload: Mapping[str, Any], topic_id: int
) -> bool:
    """Whether a forum event may concern a practice, judged from its payload alone: the
    topic is recorded already, or what the payload shows (a topic's title and tags, a
    first post's text) matches a practice or carries a tag no practice owns."""
    known = select(PracticeTopic.id).where(PracticeTopic.topic_id == topic_id).limit(1)
    if session.scalars(known).first() is not None:
        return True
    topic = payload.get("topic") or {}
    post = payload.get("post") or {}
    tags = tag_names(topic.get("tags"))
    owned = set(session.scalars(select(PracticeTagName.name)).all())
    if any(tag not in owned for tag in tags):
        return True  # perhaps a practice tag people made: a stub
    title = str(topic.get("title") or post.get("topic_title") or "")
    text = TopicText(topic_id, title, "", tags, str(post.get("raw") or ""))
    practices = list(session.scalars(select(Practice).where(Practice.deleted_at.is_(None))))
    return bool(find_matches(practices, settings, text))


def reconcile_topics(
    store: Store,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Settings,
    summary: PracticeSyncSummary,
) -> None:
    """The full sync's forum side: the newest first posts that link to or name a practice
    are tagged, and practice tags without a page become stub suggestions."""
    with store.session() as session:
        practices = list(session.scalars(select(Practice).where(Practice.deleted_at.is_(None))))
    candidates: list[int] = []
    before: int | None = None
    for _ in range(RECONCILE_PAGES):
        posts = forum.latest_posts(before)
        for post in posts:
            if post.post_number != 1 or post.topic_id in candidates:
                continue
            text = TopicText(post.topic_id, post.topic_title or "", "", (), post.raw or "")
            if find_matches(practices, settings, text):
                candidates.append(post.topic_id)
        if not posts:
            break
        before = min(post.id for post in posts) - 1
        if before <= 0:
            break
    for topic_id in candidates:
        try:
            with store.session() as session:
                summary.topics_tagged += tag_topic(session, wiki, forum, settings, topic_id)
        except ConnectorError as exc:
            summary.errors += 1
            summary.lines.append(f"error: topic {topic_id}: {type(exc).__name__}: {exc}")
    with store.session() as session:
        for tag in suggest_stubs(session, forum, settings):
            summary.stubs_suggested += 1
            summary.lines.append(f"stub suggested: tag {tag}")


def _suggest_stubs_for(
    session: Session, forum: ForumClient, settings: Settings, tags: Iterable[str]
) -> None:
    owned = set(session.scalars(select(PracticeTagName.name)).all())
    unknown = [tag for tag in tags if tag not in owned]
    if unknown:  # only then is the tag group worth a read
        in_group = set(practice_group_tags(forum, settings))
        suggest_stub_tags(session, [tag for tag in unknown if tag in in_group])


def _names(name: str, text: str) -> bool:
    words = name.split()
    if not words:
        return False
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _title_from_url(url: str, wiki_host: str) -> str | None:
    parts = urlsplit(url)
    if not wiki_host or parts.netloc.lower() != wiki_host:
        return None
    query = parse_qs(parts.query)
    if parts.path.endswith("/index.php") and query.get("title"):
        return normal_title(query["title"][0])
    for marker in ("/index.php/", "/wiki/"):
        if marker in parts.path:
            rest = parts.path.split(marker, 1)[1]
            return normal_title(rest) if rest else None
    return None
