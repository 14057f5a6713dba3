"""Promotion: a moderator turns a forum topic into a practice page (forum -> wiki).

The page is created (never overwritten) with ``{{Practice}}`` filled from the topic, then
synced like any practice page (its tag, the tag group), the topic gets the tag, and the
topic's suggestion is marked promoted. A promotion cut short (the page made, the rest
not) is completed by running it again: the page it made is recognised by its link back
to the topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import PRIVATE_MESSAGE
from community.bot_section import escape
from community.constellations.models import PageTopicLink
from community.constellations.wiki_section import organisations
from community.credits.forum_credit import credit_practice_author
from community.practices.candidates import KIND, first_paragraph, topic_key
from community.practices.models import Practice, PracticeSuggestion, PracticeTopic
from community.practices.registry import sync_practice_page
from community.practices.section import refresh_practice_section
from connectors.discourse import ForumClient
from connectors.discourse.records import Topic
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiPage
from core import clock
from core.errors import ConstellateError, EditConflict, NotFound
from core.store import dialect_insert

SUMMARY = "Constellate: practice promoted from the forum topic {topic_id}"
# Characters MediaWiki never allows in a title.
TITLE_FORBIDDEN = "#<>[]|{}"
MAX_TITLE_BYTES = 255
# Markdown that plain text does not keep: links keep their label, emphasis marks go.
MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MD_MARKS = re.compile(r"\*+|`+|~~|(?<!\w)__?|__?(?!\w)|^#+\s*|^>\s*")


class PromotionError(ConstellateError):
    """A promotion refused: the message names the topic or title and why."""


@dataclass(frozen=True)
class PromotionResult:
    title: str
    page_id: int
    tag: str
    topic_id: int
    suggestion_id: int
    resumed: bool  # the page already existed from an earlier, interrupted promotion


def promote(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Any,
    *,
    topic_id: int,
    title: str | None = None,
    organisation: str | None = None,
    moderator: str | None,
) -> PromotionResult:
    """Create the practice page for forum topic ``topic_id`` and register it.

    Refuses (PromotionError) when the topic is missing or a private message, when it
    was promoted already, when the title is taken by another page, or when the
    originating organisation is unknown (the author is in no partner group, or in
    several: name one with ``organisation``).
    """
    done = _suggestion(session, topic_id)
    if done is not None and done.state == "promoted":
        raise PromotionError(f"topic {topic_id}: already promoted to {done.page_title!r}")
    try:
        topic = forum.get_topic(topic_id)
    except NotFound:
        raise PromotionError(f"topic {topic_id}: not found on the forum") from None
    if topic.data.get("archetype") == PRIVATE_MESSAGE:
        raise PromotionError(f"topic {topic_id}: a private message is never a practice")
    if not topic.posts:
        raise PromotionError(f"topic {topic_id}: has no readable first post")
    page_title = page_title_for(topic, title)
    author = topic.posts[0].username
    origin = _origin(session, author, organisation, topic_id)
    link = topic_link(settings, topic)
    text = page_text(session, settings, topic, origin=origin, link=link)

    session.commit()  # no write lock held while the platforms answer
    resumed = False
    try:
        wiki.edit(page_title, text, summary=SUMMARY.format(topic_id=topic.id), mode="create")
    except EditConflict:
        page = wiki.read_pages([page_title])[page_title]
        if not (page.exists and _made_for(page, link)):
            raise PromotionError(
                f"title {page_title!r}: a page with this title exists already; choose another title"
            ) from None
        resumed = True
    page = wiki.read_pages([page_title])[page_title]
    if page.pageid is None or not page.exists:
        raise PromotionError(f"title {page_title!r}: the page is gone since it was created")
    outcome = sync_practice_page(session, wiki, forum, settings, page)
    practice = session.get(Practice, page.pageid)
    if practice is None or outcome == "malformed":
        raise PromotionError(f"title {page_title!r}: the new page did not parse as a practice")
    # The practice is the forum author's, whoever saved the page.
    practice.author, practice.author_platform = author, "forum"
    credit_practice_author(session, practice, settings)
    _tag_topic(session, forum, topic, practice)
    refresh_practice_section(session, wiki, settings, practice)
    suggestion = _mark_promoted(session, topic, page.title, moderator)
    return PromotionResult(page.title, page.pageid, practice.tag, topic.id, suggestion.id, resumed)


# -- what the page says ---------------------------------------------------------------


def page_title_for(topic: Topic, title: str | None) -> str:
    """``title`` when given (refused when the wiki cannot have it), else the topic's
    title without the characters MediaWiki forbids."""
    if title is not None:
        wanted = " ".join(title.split())
        bad = sorted({c for c in wanted if c in TITLE_FORBIDDEN})
        if bad:
            raise PromotionError(f"title {title!r}: a wiki title may not contain {' '.join(bad)}")
    else:
        wanted = " ".join("".join(" " if c in TITLE_FORBIDDEN else c for c in topic.title).split())
    if not wanted:
        raise PromotionError(f"topic {topic.id}: no usable page title; give one with --title")
    if len(wanted.encode()) > MAX_TITLE_BYTES:
        raise PromotionError(f"title {wanted[:40]!r}...: longer than {MAX_TITLE_BYTES} bytes")
    return wanted[0].upper() + wanted[1:]


def page_text(session: Session, settings: Any, topic: Topic, *, origin: str, link: str) -> str:
    """The new page: ``{{Practice}}``, a short body and the link back to the topic."""
    first = topic.posts[0]
    summary = plain_text(first_paragraph(first.raw or "")) or topic.title
    related = related_constellations(session, topic)
    lines = [
        "{{Practice",
        f"| summary = {escape(summary)}",
        f"| originating_organisation = {escape(origin)}",
        "| adopted_by = ",
        f"| related_constellations = {', '.join(escape(c) for c in related)}",
        "}}",
        "",
        f"This practice was first shared on the forum by {escape(first.username)} "
        f"({escape(origin)}).",
        "",
        "== Source ==",
        f"* [{link} {escape(topic.title)}]",
    ]
    return "\n".join(lines) + "\n"


def plain_text(markdown: str) -> str:
    """A markdown paragraph as plain text: link labels kept, emphasis marks dropped."""
    text = MD_LINK.sub(r"\1", markdown)
    text = MD_MARKS.sub("", text)
    return " ".join(text.split())


def related_constellations(session: Session, topic: Topic) -> list[str]:
    """The constellation whose forum category holds the topic, if any."""
    if topic.category_id is None:
        return []
    query = select(PageTopicLink.wiki_title).where(
        PageTopicLink.forum_category_id == topic.category_id
    )
    return sorted(set(session.scalars(query)))


def topic_link(settings: Any, topic: Topic) -> str:
    base = str(settings["forum"]["url"]).rstrip("/")
    return f"{base}/t/{topic.slug or 'topic'}/{topic.id}"


def _made_for(page: WikiPage, link: str) -> bool:
    return f"[{link} " in page.text


def _origin(session: Session, author: str, organisation: str | None, topic_id: int) -> str:
    if organisation is not None:
        chosen = " ".join(organisation.split())
        if not chosen or "," in chosen:
            raise PromotionError(f"organisation {organisation!r}: give one name, no commas")
        return chosen
    found = organisations(session, [author]).get(author.casefold(), ())
    if len(found) == 1:
        return found[0]
    if not found:
        raise PromotionError(
            f"topic {topic_id}: its author {author} is in no partner organisation; "
            "name the originating organisation with --organisation"
        )
    raise PromotionError(
        f"topic {topic_id}: its author {author} is in {', '.join(found)}; "
        "name the originating organisation with --organisation"
    )


# -- the store and the forum ----------------------------------------------------------


def _suggestion(session: Session, topic_id: int) -> PracticeSuggestion | None:
    query = select(PracticeSuggestion).where(PracticeSuggestion.key == topic_key(topic_id))
    return session.scalars(query).first()


def _tag_topic(session: Session, forum: ForumClient, topic: Topic, practice: Practice) -> None:
    """The topic carries the practice's tag (its other tags kept) and is recorded as
    discussing the practice."""
    if practice.tag not in topic.tags:
        forum.update_topic(topic.id, tags=[*topic.tags, practice.tag])
    values = {
        "page_id": practice.page_id,
        "topic_id": topic.id,
        "title": topic.title[:255],
        "slug": topic.slug[:255],
        "matched_by": "tag",
        "found_at": clock.now(),
    }
    session.execute(
        dialect_insert(session, PracticeTopic).values(**values).on_conflict_do_nothing()
    )
    session.flush()


def _mark_promoted(
    session: Session, topic: Topic, page_title: str, moderator: str | None
) -> PracticeSuggestion:
    now = clock.now()
    suggestion = _suggestion(session, topic.id)
    if suggestion is None:  # promoted without being suggested first: remember it too
        session.execute(
            dialect_insert(session, PracticeSuggestion)
            .values(
                key=topic_key(topic.id),
                kind=KIND,
                topic_id=topic.id,
                title=topic.title[:255],
                score=0.0,
                reasons=["promoted by a moderator"],
                state="open",
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        suggestion = _suggestion(session, topic.id)
        assert suggestion is not None
    suggestion.state = "promoted"
    suggestion.page_title = page_title
    suggestion.decided_at = now
    suggestion.decided_by = moderator
    session.flush()
    return suggestion
