"""The forum section on a constellation's wiki page, between Constellate's markers.

Recent discussions and active participants come from the ``ForumPostActivity`` rows that
the event handlers keep (the category's posts, no forum listing needed); the forum is
asked only for the titles of those topics and for each participant's groups. The text
outside the markers is never changed. A person's edit inside the markers (seen as an
inside text whose hash is not the one we last wrote) is moved just above the section
under a short note, so no one's words are lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.charter import Charter
from community.leadership import WikiSectionState
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiPage
from core.errors import EditConflict, NotFound
from core.models import PageTopicLink, utcnow

BEGIN = "<!-- constellate:begin -->"
END = "<!-- constellate:end -->"
NOTE = (
    "''This section is maintained by Constellate from the forum and is rewritten on "
    "every sync: please edit above or below it.''"
)
MOVED_NOTE = (
    "''The text below was edited inside the section that Constellate maintains; "
    "it was moved here so that it is kept. Please merge or remove it.''"
)
HEALTH_LINE = "Health: not measured yet; it will be shown once the health capability lands."
SUMMARY = "Constellate: update the forum section"
# Accounts whose posts are Constellate's own (the charter topic), not participation.
SYSTEM_USERS = {"system"}
# Characters that would become markup in titles and names; shown as entities instead.
ESCAPES = {c: f"&#{ord(c)};" for c in "&<>[]{}|'=~*#:;_"}


@dataclass(frozen=True)
class Discussion:
    topic_id: int
    title: str
    url: str
    started: datetime


@dataclass(frozen=True)
class Participant:
    username: str
    organisations: tuple[str, ...]


def update_wiki_section(
    session: Session,
    wiki: WikiClient,
    forum: ForumClient,
    settings: Any,
    *,
    charter: Charter,
    link: PageTopicLink,
    dry_run: bool = False,
    page: WikiPage | None = None,
) -> str:
    """Write the section on the charter's page: "written", "unchanged" or "conflict".

    ``page``, when the caller already read it (a batched sync), saves a read when the
    section is unchanged; a write still goes through ``apply``, which reads afresh.

    "conflict": a person's edit inside the markers was moved above them, or the page
    kept changing under us for three tries (nothing written; the next sync retries).
    """
    inside = render_inside(
        settings,
        link,
        recent_discussions(session, forum, settings, link),
        active_participants(session, forum, settings, link),
    )
    state = session.get(WikiSectionState, link.wiki_page_id)
    outcome: dict[str, str] = {}

    def transform(page: WikiPage) -> str | None:
        # A deleted page is not recreated; a title now held by another page is left alone.
        if not page.exists or page.pageid != link.wiki_page_id:
            outcome["action"] = "unchanged"
            return None
        text, conflict = replace_section(page.text, inside, state.written_hash if state else None)
        outcome["action"] = "conflict" if conflict else "written"
        return None if text == page.text else text

    if page is None or dry_run:
        page = page or wiki.read_pages([charter.title])[charter.title]
    new_text = transform(page)
    changed = new_text is not None and new_text.rstrip() != page.text.rstrip()
    if dry_run:
        return outcome["action"] if changed else "unchanged"
    if not changed:
        if outcome.get("action") == "written":
            _remember(session, link.wiki_page_id, state, inside)
        return "unchanged"
    try:
        result = wiki.apply(charter.title, transform, summary=SUMMARY, attempts=3)
    except EditConflict:  # still edited by others after three tries: next sync retries
        return "conflict"
    if result is None:
        # Nothing to write; still remember the section as ours when the page has it, so
        # a lost state does not turn the next person's edit into a false conflict.
        if outcome.get("action") == "written":
            _remember(session, link.wiki_page_id, state, inside)
        return "unchanged"
    _remember(session, link.wiki_page_id, state, inside)
    return outcome["action"]


def replace_section(text: str, inside: str, written_hash: str | None) -> tuple[str, bool]:
    """The page text with ``inside`` between the markers, and whether a person's edit
    inside them was moved above the section."""
    body = f"\n{inside}\n"
    begin = text.rfind(BEGIN)
    end = text.find(END, begin) if begin >= 0 else -1
    if begin < 0 or end < 0:
        separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return f"{text}{separator}{BEGIN}{body}{END}", False
    current = text[begin + len(BEGIN) : end]
    before, after = text[:begin], text[end:]
    if _is_ours(current, inside, written_hash):
        return f"{before}{BEGIN}{body}{after}", False
    moved = f"{MOVED_NOTE}\n{current.strip()}\n\n"
    return f"{before}{moved}{BEGIN}{body}{after}", True


def section_hash(inside: str) -> str:
    return hashlib.sha256(inside.strip().encode()).hexdigest()


def _is_ours(current: str, inside: str, written_hash: str | None) -> bool:
    if current.strip() in ("", inside.strip()):
        return True
    return written_hash is not None and section_hash(current) == written_hash


def _remember(session: Session, page_id: int, state: WikiSectionState | None, inside: str) -> None:
    digest = section_hash(inside)
    if state is None:
        session.add(WikiSectionState(page_id=page_id, written_hash=digest, written_at=utcnow()))
    elif state.written_hash != digest:
        state.written_hash = digest
        state.written_at = utcnow()
    session.flush()


# -- what the section shows -----------------------------------------------------------


def recent_discussions(
    session: Session, forum: ForumClient, settings: Any, link: PageTopicLink
) -> list[Discussion]:
    """The newest topics in the category (the charter topic aside), newest first."""
    if link.forum_category_id is None:
        return []
    limit = int(settings["constellations"]["recent_topics"])
    started = func.min(ForumPostActivity.created_at)
    query = (
        select(ForumPostActivity.topic_id, started)
        .where(
            ForumPostActivity.category_id == link.forum_category_id,
            ForumPostActivity.deleted.is_(False),
        )
        .group_by(ForumPostActivity.topic_id)
        .order_by(started.desc(), ForumPostActivity.topic_id.desc())
    )
    if link.forum_topic_id is not None:
        query = query.where(ForumPostActivity.topic_id != link.forum_topic_id)
    base = str(settings["forum"]["url"]).rstrip("/")
    found: list[Discussion] = []
    for topic_id, first in session.execute(query):
        if len(found) >= limit:
            break
        try:
            topic = forum.get_topic(topic_id)
        except NotFound:  # deleted or hidden since: not a discussion to point to
            continue
        url = f"{base}/t/{topic.slug or 'topic'}/{topic.id}"
        found.append(Discussion(topic.id, topic.title, url, first))
    return found


def active_participants(
    session: Session, forum: ForumClient, settings: Any, link: PageTopicLink
) -> list[Participant]:
    """Everyone who posted in the category within ``participant_days``, by name."""
    if link.forum_category_id is None:
        return []
    days = int(settings["constellations"]["participant_days"])
    since = datetime.now(UTC) - timedelta(days=days)
    query = (
        select(ForumPostActivity.username)
        .where(
            ForumPostActivity.category_id == link.forum_category_id,
            ForumPostActivity.deleted.is_(False),
            ForumPostActivity.created_at >= since,
        )
        .distinct()
    )
    ours = {name.lower() for name in SYSTEM_USERS | {forum.username}}
    names = sorted({n for n in session.scalars(query) if n.lower() not in ours}, key=str.lower)
    return [Participant(name, organisations(forum, name)) for name in names]


def organisations(forum: ForumClient, username: str) -> tuple[str, ...]:
    """The partner organisations of a person: their non-automatic forum groups."""
    try:
        user = forum.get_user(username)
    except NotFound:
        return ()
    groups = user.data.get("groups") or []
    names = {
        str(group.get("full_name") or group["name"])
        for group in groups
        if not group.get("automatic")
    }
    return tuple(sorted(names, key=str.lower))


def render_inside(
    settings: Any,
    link: PageTopicLink,
    discussions: list[Discussion],
    participants: list[Participant],
) -> str:
    """The wikitext between the markers: the same inputs always give the same text."""
    days = int(settings["constellations"]["participant_days"])
    lines = ["== On the forum ==", NOTE, ""]
    if link.forum_category_id is not None:
        base = str(settings["forum"]["url"]).rstrip("/")
        lines += [f"[{base}/c/{link.forum_category_id} The constellation's forum category]", ""]
    lines.append("=== Recent discussions ===")
    lines += [
        f"* [{d.url} {escape(d.title)}] (started {d.started.date().isoformat()})"
        for d in discussions
    ] or ["* No discussions yet."]
    lines += ["", "=== Active participants ===", f"Posted in the last {days} days:"]
    for person in participants:
        where = ", ".join(escape(o) for o in person.organisations) or "no partner organisation"
        lines.append(f"* {escape(person.username)} ({where})")
    if not participants:
        lines.append("* No one yet.")
    lines += ["", "=== Health ===", HEALTH_LINE]
    return "\n".join(lines)


def escape(value: str) -> str:
    """Plain text that the wiki shows as it is (no links, templates or signatures)."""
    return "".join(ESCAPES.get(c, c) for c in " ".join(value.split()))
