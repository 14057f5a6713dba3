"""Forum topics that look like a practice, suggested to moderators.

A topic is scored by configurable rules (``settings["practices"]["candidates"]``): each
satisfied rule adds one point and says why. Text similarity (rapidfuzz, offline) keeps
near-duplicates of an existing practice out and names a practice a topic resembles.
A topic is suggested once: its suggestion's key (``topic:<id>``) is unique, so a
dismissed or promoted topic is never suggested again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, utils
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from community.activity import PRIVATE_MESSAGE, ForumLike, ForumPostActivity, ForumTopic
from community.constellations.wiki_section import SYSTEM_USERS, organisations
from community.handling import HandlerContext
from community.practices.models import (
    Practice,
    PracticeSuggestion,
    PracticeTagName,
    PracticeTopic,
)
from connectors.discourse import ForumClient
from connectors.discourse.records import Post, Topic
from core import clock
from core.errors import ConstellateError, NotFound
from core.events import Event
from core.models import SyncCursor
from core.store import dialect_insert

KIND = "candidate"
LATEST_PAGES = 20  # /posts.json pages a scan reads at most (50 posts each)


class SuggestionError(ConstellateError):
    """A suggestion that cannot be decided: unknown, or already decided."""


@dataclass(frozen=True)
class Rules:
    keywords: tuple[str, ...]
    min_replies: int
    min_likes: int
    min_organisations: int
    min_score: float
    duplicate_similarity: float  # 0 turns the near-duplicate check off
    related_similarity: float  # 0 turns "similar to practice X" off


@dataclass(frozen=True)
class Assessment:
    """A topic judged: ``excluded`` says why it can never be a candidate."""

    topic_id: int
    title: str
    score: float
    reasons: tuple[str, ...]
    excluded: str | None = None

    def qualifies(self, rules: Rules) -> bool:
        return self.excluded is None and self.score >= rules.min_score


def rules_from(settings: Mapping[str, Any]) -> Rules:
    found = settings["practices"]["candidates"]
    return Rules(
        keywords=tuple(str(k).casefold() for k in found["keywords"] if str(k).strip()),
        min_replies=int(found["min_replies"]),
        min_likes=int(found["min_likes"]),
        min_organisations=int(found["min_organisations"]),
        min_score=float(found["min_score"]),
        duplicate_similarity=float(found.get("duplicate_similarity", 0)),
        related_similarity=float(found.get("related_similarity", 0)),
    )


# -- scoring --------------------------------------------------------------------------


def assess_topic(
    session: Session,
    settings: Mapping[str, Any],
    topic: Topic,
    organisations_of: Callable[[str], tuple[str, ...]],
) -> Assessment:
    """Score ``topic`` (read with its posts) by the rules; exclusions come first."""
    rules = rules_from(settings)
    excluded = _exclusion(session, settings, topic)
    if excluded is not None:
        return Assessment(topic.id, topic.title, 0.0, (), excluded)
    practices = list(session.scalars(select(Practice).where(Practice.deleted_at.is_(None))))
    first = topic.posts[0] if topic.posts else None
    opening = first_paragraph(first.raw or "") if first else ""
    similar = _most_similar(topic.title, opening, practices)
    if similar and rules.duplicate_similarity and similar[1] >= rules.duplicate_similarity:
        return Assessment(
            topic.id,
            topic.title,
            0.0,
            (),
            f"near-duplicate of practice {similar[0].title!r} ({similar[1]:.0f}% similar)",
        )
    reasons: list[str] = []
    text = f"{topic.title}\n{first.raw if first else ''}".casefold()
    matched = [k for k in rules.keywords if k in text]
    if matched:
        reasons.append("keywords: " + ", ".join(repr(k) for k in matched))
    author = first.username if first else ""
    people = _people(settings, topic)
    replies = [p for p in topic.posts if p.post_number > 1 and p.username in people - {author}]
    if rules.min_replies and len(replies) >= rules.min_replies:
        reasons.append(f"{len(replies)} replies from others (at least {rules.min_replies})")
    likes = int(topic.data.get("like_count") or 0)
    if rules.min_likes and likes >= rules.min_likes:
        reasons.append(f"{likes} likes (at least {rules.min_likes})")
    if rules.min_organisations:
        found = sorted({o for name in people for o in organisations_of(name)}, key=str.lower)
        if len(found) >= rules.min_organisations:
            reasons.append(
                f"{len(found)} organisations: {', '.join(found)} "
                f"(at least {rules.min_organisations})"
            )
    score = float(len(reasons))
    if similar and rules.related_similarity and similar[1] >= rules.related_similarity:
        reasons.append(f"similar to practice {similar[0].title!r} ({similar[1]:.0f}% similar)")
    return Assessment(topic.id, topic.title, score, tuple(reasons))


def first_paragraph(raw: str) -> str:
    """The first paragraph of a post's markdown, as one line of text."""
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        line = " ".join(block.split())
        if line:
            return line
    return ""


def _exclusion(session: Session, settings: Mapping[str, Any], topic: Topic) -> str | None:
    if topic.data.get("archetype") == PRIVATE_MESSAGE:
        return "a private message"
    author = topic.posts[0].username if topic.posts else ""
    if author.casefold() in _our_accounts(settings):
        return f"started by {author}, our own account"
    if topic.tags:
        known = session.scalars(
            select(PracticeTagName.name).where(PracticeTagName.name.in_(topic.tags))
        ).first()
        if known is not None:
            return f"already tagged with practice tag {known!r}"
    return None


def _our_accounts(settings: Mapping[str, Any]) -> set[str]:
    return {str(settings["forum"]["api_username"]).casefold(), *SYSTEM_USERS}


def _people(settings: Mapping[str, Any], topic: Topic) -> set[str]:
    """Who posted, our own accounts aside (hidden and deleted posts do not count)."""
    ours = _our_accounts(settings)
    return {
        p.username
        for p in topic.posts
        if p.username and p.username.casefold() not in ours and not (p.hidden or p.deleted)
    }


def _most_similar(
    title: str, opening: str, practices: Iterable[Practice]
) -> tuple[Practice, float] | None:
    """The practice most like the topic: its title against the practice's title, its
    opening paragraph against the practice's summary (0-100, case and punctuation aside)."""
    best: tuple[Practice, float] | None = None
    for practice in practices:
        value = fuzz.token_sort_ratio(title, practice.title, processor=utils.default_process)
        if opening and practice.summary:
            value = max(
                value,
                fuzz.token_sort_ratio(opening, practice.summary, processor=utils.default_process),
            )
        if best is None or value > best[1]:
            best = (practice, value)
    return best


# -- suggesting -----------------------------------------------------------------------


def suggest_candidates(
    session: Session, forum: ForumClient, settings: Mapping[str, Any], topic_ids: Iterable[int]
) -> list[PracticeSuggestion]:
    """Score each topic never suggested before, read from the forum, and store those that
    qualify. Returns the suggestions stored now. Topics gone from the forum are skipped."""
    made: list[PracticeSuggestion] = []
    for topic_id in dict.fromkeys(int(t) for t in topic_ids):
        if _suggested(session, topic_id):
            continue
        try:
            topic = forum.get_topic(topic_id)
        except NotFound:  # deleted, or a message we may not read
            continue
        stored = _suggest(session, settings, topic)
        if stored is not None:
            made.append(stored)
    return made


def _suggest(
    session: Session, settings: Mapping[str, Any], topic: Topic
) -> PracticeSuggestion | None:
    """Store ``topic`` as a suggestion when it qualifies (people's organisations from the
    store)."""
    cache: dict[str, tuple[str, ...]] = {}

    def organisations_of(username: str) -> tuple[str, ...]:
        if username not in cache:
            cache[username] = organisations(session, [username]).get(username.casefold(), ())
        return cache[username]

    judged = assess_topic(session, settings, topic, organisations_of)
    return _store(session, judged) if judged.qualifies(rules_from(settings)) else None


def stored_topic(session: Session, topic_id: int) -> Topic | None:
    """The topic as webhooks reported it: title, opening post, who posted, likes, and the
    practice tags we gave it. None when no first-post report carried its text (a topic
    from before the service, or a lost webhook): then only the forum can tell."""
    row = session.get(ForumTopic, topic_id)
    if row is None or row.opening is None:
        return None
    posts = session.scalars(
        select(ForumPostActivity)
        .where(ForumPostActivity.topic_id == topic_id)
        .order_by(ForumPostActivity.post_number)
    ).all()
    if not posts or posts[0].post_number != 1:
        return None
    likes = session.scalar(
        select(func.count()).select_from(ForumLike).where(ForumLike.topic_id == topic_id)
    )
    tags = session.scalars(
        select(PracticeTagName.name)
        .join(PracticeTopic, PracticeTopic.page_id == PracticeTagName.page_id)
        .where(
            PracticeTopic.topic_id == topic_id,
            PracticeTopic.removed_at.is_(None),
            PracticeTagName.current.is_(True),
        )
    ).all()
    return Topic(
        id=topic_id,
        title=row.title,
        slug=row.slug,
        category_id=posts[0].category_id,
        tags=tuple(tags),
        posts_count=len(posts),
        created_at=posts[0].created_at,
        posts=tuple(
            Post(
                id=post.post_id,
                topic_id=topic_id,
                post_number=post.post_number,
                username=post.username,
                raw=row.opening if post.post_number == 1 else None,
                created_at=post.created_at,
                reply_to_post_number=post.reply_to_post_number,
                post_type=post.post_type,
                hidden=post.hidden,
                deleted=post.deleted,
            )
            for post in posts
        ),
        data={
            "like_count": int(likes or 0),
            "archetype": PRIVATE_MESSAGE if posts[0].private else "regular",
        },
    )


def scan_latest(
    session: Session, forum: ForumClient, settings: Mapping[str, Any], count: int
) -> list[PracticeSuggestion]:
    """``suggest_candidates`` over the ``count`` topics with the newest posts."""
    topic_ids: list[int] = []
    before: int | None = None
    for _ in range(LATEST_PAGES):
        posts = forum.latest_posts(before=before)
        for post in posts:
            if post.topic_id not in topic_ids and len(topic_ids) < count:
                topic_ids.append(post.topic_id)
        if len(topic_ids) >= count or not posts:
            break
        before = min(post.id for post in posts) - 1
        if before < 1:
            break
    return suggest_candidates(session, forum, settings, topic_ids)


def suggest_on_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_created: a topic whose replies reach ``min_replies`` (counted from the
    activity rows, so quiet topics cost nothing) is scored, and scored again as its
    replies double, until it qualifies. The topic is scored as the store knows it; only
    one whose opening post never reached us is read from the forum."""
    if not ctx.settings.get("forum", {}).get("url"):
        return  # no forum to read the topic from
    post: Mapping[str, Any] = event.payload["post"]
    if post.get("topic_archetype") == PRIVATE_MESSAGE or int(post.get("post_number") or 0) < 2:
        return
    topic_id = int(post["topic_id"])
    if _suggested(ctx.session, topic_id):
        return
    replies = ctx.session.scalar(
        select(func.count())
        .select_from(ForumPostActivity)
        .where(
            ForumPostActivity.topic_id == topic_id,
            ForumPostActivity.post_number > 1,
            ForumPostActivity.deleted.is_(False),
        )
    )
    replies = int(replies or 0)
    if replies < rules_from(ctx.settings).min_replies or not _worth_scoring_again(
        ctx.session, topic_id, replies
    ):
        return
    topic = stored_topic(ctx.session, topic_id)
    if topic is None:
        suggest_candidates(ctx.session, ctx.forum(), ctx.settings, [topic_id])
    else:
        _suggest(ctx.session, ctx.settings, topic)


def _worth_scoring_again(session: Session, topic_id: int, replies: int) -> bool:
    """A topic that did not qualify is scored again only when its replies have doubled
    since: a busy topic costs a handful of forum reads, not one per reply. Records this
    scoring's reply count when it is due."""
    mark = session.get(SyncCursor, f"practice-scored:{topic_id}")
    if mark is not None and replies < 2 * int(mark.value):
        return False
    session.merge(SyncCursor(name=f"practice-scored:{topic_id}", value=str(replies)))
    return True


def open_suggestions(session: Session) -> list[PracticeSuggestion]:
    """Every suggestion waiting for a moderator (candidates and stubs), best first."""
    query = select(PracticeSuggestion).where(PracticeSuggestion.state == "open")
    order = (PracticeSuggestion.score.desc(), PracticeSuggestion.id)
    return list(session.scalars(query.order_by(*order)))


def dismiss(session: Session, suggestion_id: int, *, moderator: str | None) -> PracticeSuggestion:
    """Close an open suggestion for good (its key stays, so it is not suggested again)."""
    suggestion = session.get(PracticeSuggestion, suggestion_id)
    if suggestion is None:
        raise SuggestionError(f"suggestion {suggestion_id}: no such suggestion")
    if suggestion.state != "open":
        raise SuggestionError(f"suggestion {suggestion_id}: already {suggestion.state}")
    suggestion.state = "dismissed"
    suggestion.decided_at = clock.now()
    suggestion.decided_by = moderator
    session.flush()
    return suggestion


def topic_key(topic_id: int) -> str:
    return f"topic:{int(topic_id)}"


def _suggested(session: Session, topic_id: int) -> bool:
    key = topic_key(topic_id)
    found = session.scalar(select(PracticeSuggestion.id).where(PracticeSuggestion.key == key))
    return found is not None


def _store(session: Session, judged: Assessment) -> PracticeSuggestion | None:
    statement = dialect_insert(session, PracticeSuggestion).values(
        key=topic_key(judged.topic_id),
        kind=KIND,
        topic_id=judged.topic_id,
        title=judged.title[:255],
        score=judged.score,
        reasons=list(judged.reasons),
        state="open",
        created_at=clock.now(),
    )
    row_id = session.execute(
        statement.on_conflict_do_nothing().returning(PracticeSuggestion.id)
    ).scalar()
    return session.get(PracticeSuggestion, row_id) if row_id is not None else None
