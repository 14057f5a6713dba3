"""Credit from forum events (replies, likes, accepted solutions) and from practices.

Guards: only replies (not a topic's first post, not small actions or whispers, not in a
private message) earn reply credit; bots, our own accounts and the excluded list earn
nothing; no credit for liking one's own post or solving one's own topic. A deleted or
hidden post's credit is cancelled by counter-entries; a recovered post earns it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import PRIVATE_MESSAGE, ForumPostActivity
from community.credits import ledger
from community.credits.ledger import FIELD_LIMIT, Contribution, fit_key
from community.credits.models import CreditEntry
from community.credits.rules import CreditRules, is_excluded, load_rules, normalise
from community.handling import HandlerContext
from community.practices.models import Practice, PracticeAdoption
from connectors.discourse.records import Topic
from core import event_kinds
from core.config import Settings
from core.errors import NotFound
from core.events import Event
from core.times import parse_time

REGULAR_POST = 1  # post_type: 2 moderator action, 3 small action, 4 whisper
SOLUTION = "accepted_solution"
ADOPTED = "practice_adopted"
POST_DELETED, POST_HIDDEN, TOPIC_DELETED = "post deleted", "post hidden", "topic deleted"
# Cancellations a recovery undoes (an unaccepted solution stays cancelled).
RESTORABLE = frozenset({POST_DELETED, POST_HIDDEN, TOPIC_DELETED})
RECOVERED = ":recovered:"


def credit_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_created / post_edited / post_recovered: reply credit, or the return of
    every credit a deletion or hiding cancelled; a hidden post's credit is cancelled."""
    post: Mapping[str, Any] = event.payload["post"]
    obj = f"post:{int(post['id'])}"
    if post.get("hidden") or (
        post.get("deleted_at") and event.kind != event_kinds.FORUM_POST_RECOVERED
    ):
        reason = POST_HIDDEN if post.get("hidden") else POST_DELETED
        _cancel_post_credit(ctx, post, reason=reason, at=event.occurred_at)
        return
    if _restorable(ctx.session, obj):
        if not _gone(ctx, post):  # deleted or hidden before, and back now
            _restore(ctx.session, obj, at=event.occurred_at)
        return
    if event.kind != event_kinds.FORUM_POST_CREATED:
        return  # an edit of a post we never credited (written before Constellate ran)
    credit_reply(ctx.session, ctx.settings, post, at=event.occurred_at)


def credit_reply(
    session: Session, settings: Settings, post: Mapping[str, Any], *, at: datetime
) -> bool:
    """Reply credit for a post the forum shows, when the guards allow it (a new post's
    webhook, or a post read from the forum's history); True when new. Dated by the
    post's creation (``at`` when it has none)."""
    if post.get("hidden") or post.get("deleted_at"):
        return False
    rules = load_rules(settings)
    if not _creditable_reply(rules, settings, post):
        return False
    when = parse_time(post.get("created_at")) or at
    return ledger.credit(
        session, _contribution(rules, post, kind="forum_reply", ref=str(post["id"]), at=when)
    )


def cancel_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_destroyed: every credit of the post is cancelled, the rows kept."""
    _cancel_post_credit(ctx, event.payload["post"], reason=POST_DELETED, at=event.occurred_at)


def cancel_topic(event: Event, ctx: HandlerContext) -> None:
    """forum.topic_destroyed: the credit of every post in the topic is cancelled (Discourse
    sends post_destroyed for the first post only)."""
    topic_id = int(event.payload["topic"]["id"])
    posts = _topic_posts(ctx.session, topic_id)
    if not any(ledger.active_entries(ctx.session, platform="forum", object=o) for o in posts):
        return
    if not _topic_gone(ctx, topic_id):
        return  # a late or replayed deletion: the topic is back, its credit stands
    for obj in posts:
        ledger.cancel_object(
            ctx.session, platform="forum", object=obj, reason=TOPIC_DELETED, at=event.occurred_at
        )


def restore_topic(event: Event, ctx: HandlerContext) -> None:
    """forum.topic_recovered: the credit the topic's deletion cancelled comes back (a post
    deleted on its own stays cancelled)."""
    topic_id = int(event.payload["topic"]["id"])
    posts = [o for o in _topic_posts(ctx.session, topic_id) if _restorable(ctx.session, o)]
    if not posts or _topic_gone(ctx, topic_id):
        return
    for obj in posts:
        _restore(ctx.session, obj, at=event.occurred_at, reasons=frozenset({TOPIC_DELETED}))


def _cancel_post_credit(
    ctx: HandlerContext, post: Mapping[str, Any], *, reason: str, at: datetime
) -> None:
    """Cancel the post's credit, unless the forum shows the post again by now: this is
    then a late or replayed event, and the recovery's credit stands."""
    obj = f"post:{int(post['id'])}"
    if not ledger.active_entries(ctx.session, platform="forum", object=obj):
        return
    if _gone(ctx, post):
        ledger.cancel_object(ctx.session, platform="forum", object=obj, reason=reason, at=at)


def _gone(ctx: HandlerContext, post: Mapping[str, Any]) -> bool:
    """Whether the post is deleted or hidden now, as the forum says."""
    try:
        current = ctx.forum().get_post(int(post["id"]))
    except NotFound:
        return True
    return current.deleted or current.hidden


def credit_like(event: Event, ctx: HandlerContext) -> None:
    """forum.post_liked: one credit per distinct liker, never a self-like."""
    like: Mapping[str, Any] = event.payload["like"]
    credit_liked(ctx.session, ctx.settings, like["post"], like["user"], at=event.occurred_at)


def credit_liked(
    session: Session,
    settings: Settings,
    post: Mapping[str, Any],
    liker: Mapping[str, Any],
    *,
    at: datetime,
) -> bool:
    """like_received for the post's author from ``liker`` (``username`` and ``id``), when
    the guards allow it (a like's webhook, or a like read from history); True when new."""
    name = str(liker["username"])
    rules = load_rules(settings)
    if normalise(name) == normalise(str(post["username"])) or _in_private_message(post):
        return False
    if is_excluded(rules, settings, "forum", name, is_bot=_is_bot(liker)):
        return False
    if not _creditable_author(rules, settings, post):
        return False
    return ledger.credit(
        session, _contribution(rules, post, kind="like_received", ref=f"like:{name}", at=at)
    )


def credit_solution(event: Event, ctx: HandlerContext) -> None:
    """forum.accepted_solution: credit to the reply's author, unless they started
    the topic themselves. Each accept is its own event (a re-accept too), so the credit
    is idempotent by state: given when the forum shows the post as the topic's accepted
    answer and no solution credit of the post is active; numbered by the post's earlier
    solution credits, so a re-accept after an unaccept is credited again."""
    post: Mapping[str, Any] = event.payload["solved"]

    def asked() -> TopicFacts | None:
        try:
            topic = ctx.forum().get_topic(int(post["topic_id"]))
        except NotFound:
            return None  # the topic is gone: a deleted topic's solution earns nothing
        return TopicFacts(_topic_author(topic, post), _accepted_now(topic, post))

    credit_accepted(ctx.session, ctx.settings, post, asked, at=event.occurred_at)


@dataclass(frozen=True)
class TopicFacts:
    """What the solution guards need of a solved post's topic, as the forum shows it now."""

    author: str  # who started the topic
    accepted: bool  # whether the post is the topic's accepted answer


def credit_accepted(
    session: Session,
    settings: Settings,
    post: Mapping[str, Any],
    facts: Callable[[], TopicFacts | None],
    *,
    at: datetime,
) -> bool:
    """accepted_solution credit to the post's author, when the guards allow it; True
    when new. ``facts`` tells of the topic (None: it is gone), asked only when the cheap
    guards pass: the live path reads the topic from the forum, the backfill from what it
    read already."""
    obj = f"post:{int(post['id'])}"
    rules = load_rules(settings)
    if _in_private_message(post) or not _creditable_author(rules, settings, post):
        return False
    if ledger.active_entries(session, platform="forum", object=obj, kind=SOLUTION):
        return False
    topic = facts()
    if topic is None or normalise(str(post["username"])) == normalise(topic.author):
        return False
    if not topic.accepted:
        return False  # a late or replayed accept: the solution was unaccepted since
    earlier = [e for e in _entries(session, obj, SOLUTION) if not e.cancels_key]
    return ledger.credit(
        session, _contribution(rules, post, kind=SOLUTION, ref=f"solution:{len(earlier)}", at=at)
    )


def cancel_solution(event: Event, ctx: HandlerContext) -> None:
    """forum.unaccepted_solution: the solution's credit is cancelled, unless the
    forum shows the post as the accepted answer again (a late or replayed unaccept)."""
    post: Mapping[str, Any] = event.payload["solved"]
    obj = f"post:{int(post['id'])}"
    if not ledger.active_entries(ctx.session, platform="forum", object=obj, kind=SOLUTION):
        return
    try:
        topic = ctx.forum().get_topic(int(post["topic_id"]))
    except NotFound:
        topic = None  # the topic is gone: its solution is too
    if topic is not None and _accepted_now(topic, post):
        return
    ledger.cancel_object(
        ctx.session,
        platform="forum",
        object=obj,
        kind=SOLUTION,
        reason="solution unaccepted",
        at=event.occurred_at,
    )


def credit_adoption(event: Event, ctx: HandlerContext) -> None:
    """community.practice_adopted: the practice's author is credited for being reused.

    Not when the author listed the adoption themselves, nor for the originating
    organisation. Idempotent by state: credited while the adoption stands and has no
    active credit, numbered by its earlier credits (withdrawn, then listed again)."""
    data = event.payload
    author, platform = data.get("author"), data.get("author_platform")
    if not author or platform not in ("wiki", "forum"):
        return  # a practice whose author is unknown credits no one
    if event.actor and normalise(event.actor) == normalise(str(author)):
        return  # adopting one's own practice is no reuse
    organisation = str(data["organisation"])
    origin = str(data.get("originating_organisation") or "")
    if _organisation_key(organisation) == _organisation_key(origin):
        return
    rules = load_rules(ctx.settings)
    if is_excluded(rules, ctx.settings, str(platform), str(author)):
        return
    page_id = int(data["page_id"])
    if not _adoption_stands(ctx.session, page_id, organisation):
        return  # withdrawn since: a late or replayed event
    entries = _adoption_entries(ctx.session, page_id, organisation)
    if any(not e.cancels_key and e.entry_key not in _cancelled(entries) for e in entries):
        return
    earlier = sum(1 for e in entries if not e.cancels_key)
    ledger.credit(
        ctx.session,
        ledger.scored(
            rules,
            platform=str(platform),
            account=str(author),
            kind=ADOPTED,
            object=f"practice:{page_id}",
            ref=_adoption_ref(organisation, earlier),
            occurred_at=event.occurred_at,
            scope=f"page:{page_id}",
        ),
    )


def cancel_adoption_credit(
    session: Session, *, page_id: int, organisation: str, reason: str, at: datetime
) -> int:
    """Cancel the active credit of a withdrawn adoption; returns the entries cancelled."""
    entries = _adoption_entries(session, page_id, organisation)
    cancelled = _cancelled(entries)
    return sum(
        ledger.cancel(session, e.entry_key, reason=reason, at=at)
        for e in entries
        if not e.cancels_key and e.entry_key not in cancelled
    )


def _organisation_key(organisation: str) -> str:
    return " ".join(organisation.split()).casefold()


def _adoption_ref(organisation: str, earlier: int) -> str:
    """``adoption:<org>``, then ``adoption:<org>,<n>`` for the n-th credit again
    (organisation names hold no commas, so the two never meet)."""
    ref = f"adoption:{_organisation_key(organisation)}"
    return ref if not earlier else f"{ref},{earlier}"


def _adoption_entries(session: Session, page_id: int, organisation: str) -> list[CreditEntry]:
    """The practice_adopted rows (counter-entries included) of one adopting organisation."""
    rows = list(
        session.scalars(
            select(CreditEntry).where(
                CreditEntry.kind == ADOPTED, CreditEntry.object == f"practice:{page_id}"
            )
        )
    )
    refs = {fit_key(_adoption_ref(organisation, n), FIELD_LIMIT) for n in range(len(rows) + 1)}
    return [row for row in rows if ledger.base_ref(row.ref) in refs]


def _cancelled(entries: list[CreditEntry]) -> set[str]:
    return {e.cancels_key for e in entries if e.cancels_key}


def _adoption_stands(session: Session, page_id: int, organisation: str) -> bool:
    query = select(PracticeAdoption).where(
        PracticeAdoption.page_id == page_id, PracticeAdoption.withdrawn_at.is_(None)
    )
    wanted = _organisation_key(organisation)
    return any(_organisation_key(row.organisation) == wanted for row in session.scalars(query))


def credit_practice_author(session: Session, practice: Practice, settings: Settings) -> bool:
    """practice_authored credit to the practice's author, once per practice; True when new."""
    if not practice.author or practice.author_platform not in ("wiki", "forum"):
        return False
    rules = load_rules(settings)
    if is_excluded(rules, settings, practice.author_platform, practice.author):
        return False
    return ledger.credit(
        session,
        ledger.scored(
            rules,
            platform=practice.author_platform,
            account=practice.author,
            kind="practice_authored",
            object=f"practice:{practice.page_id}",
            ref="authored",
            occurred_at=practice.updated_at,
            scope=f"page:{practice.page_id}",
        ),
    )


# -- guards ------------------------------------------------------------------------------


def _creditable_reply(rules: CreditRules, settings: Settings, post: Mapping[str, Any]) -> bool:
    return (
        int(post.get("post_number") or 0) > 1
        and int(post.get("post_type") or REGULAR_POST) == REGULAR_POST
        and not _in_private_message(post)
        and _creditable_author(rules, settings, post)
    )


def _creditable_author(rules: CreditRules, settings: Settings, post: Mapping[str, Any]) -> bool:
    username = str(post.get("username") or "")
    return not is_excluded(rules, settings, "forum", username, is_bot=_is_bot(post))


def _is_bot(user: Mapping[str, Any]) -> bool:
    """Discourse's system user and its bots have ids below 1."""
    user_id = user.get("user_id", user.get("id"))
    return isinstance(user_id, int) and user_id < 1


def _in_private_message(post: Mapping[str, Any]) -> bool:
    return post.get("topic_archetype") == PRIVATE_MESSAGE


def _topic_author(topic: Topic, post: Mapping[str, Any]) -> str:
    """Who started the post's topic: the first post's author, as the forum tells."""
    if int(post.get("post_number") or 0) == 1:
        return str(post["username"])
    creator = (topic.data.get("details") or {}).get("created_by") or {}
    if creator.get("username"):
        return str(creator["username"])
    return topic.posts[0].username if topic.posts else ""


def _contribution(
    rules: CreditRules, post: Mapping[str, Any], *, kind: str, ref: str, at: datetime
) -> Contribution:
    category = post.get("category_id")
    return ledger.scored(
        rules,
        platform="forum",
        account=str(post["username"]),
        kind=kind,
        object=f"post:{int(post['id'])}",
        ref=ref,
        occurred_at=at,
        scope=f"category:{category}" if category is not None else None,
    )


def _entries(session: Session, obj: str, kind: str) -> list[CreditEntry]:
    """Every row for the object and kind, counter-entries included."""
    query = select(CreditEntry).where(
        CreditEntry.platform == "forum", CreditEntry.object == obj, CreditEntry.kind == kind
    )
    return list(session.scalars(query))


def _accepted_now(topic: Topic, post: Mapping[str, Any]) -> bool:
    """Whether the topic's accepted answer (the discourse-solved field) is this post."""
    answer = topic.data.get("accepted_answer") or {}
    return answer.get("post_number") == int(post.get("post_number") or 0)


def _topic_posts(session: Session, topic_id: int) -> list[str]:
    """The ledger objects of the topic's posts we have seen."""
    query = select(ForumPostActivity.post_id).where(ForumPostActivity.topic_id == topic_id)
    return [f"post:{post_id}" for post_id in session.scalars(query.order_by("post_id"))]


def _topic_gone(ctx: HandlerContext, topic_id: int) -> bool:
    """Whether the topic is deleted now, as the forum says."""
    try:
        return bool(ctx.forum().get_topic(topic_id).data.get("deleted_at"))
    except NotFound:
        return True


def _restorable(session: Session, obj: str) -> list[tuple[CreditEntry, int, str]]:
    """Per credit line of the object (kind, account and ref without its recovery
    suffix) that has no active entry and was last cancelled by a deletion or hiding: the
    latest cancelled entry, how many times the line was cancelled, and why."""
    rows = list(
        session.scalars(
            select(CreditEntry)
            .where(CreditEntry.platform == "forum", CreditEntry.object == obj)
            .order_by(CreditEntry.id)
        )
    )
    reasons = {row.cancels_key: row.reason for row in rows if row.cancels_key}
    lines: dict[tuple[str, str, str], list[CreditEntry]] = {}
    for row in rows:
        if not row.cancels_key:
            line = (row.kind, row.account, row.ref.split(RECOVERED)[0])
            lines.setdefault(line, []).append(row)
    found = []
    for entries in lines.values():
        if any(entry.entry_key not in reasons for entry in entries):
            continue  # the line has an active entry
        found.append((entries[-1], len(entries)))
    return [
        (entry, n, reasons[entry.entry_key] or "")
        for entry, n in found
        if reasons[entry.entry_key] in RESTORABLE
    ]


def _restore(
    session: Session, obj: str, *, at: datetime, reasons: frozenset[str] = RESTORABLE
) -> None:
    """Credit again every line a deletion or hiding cancelled (reply, likes, solution),
    each under a ref numbered by its cancellations, so a replay finds its key taken."""
    for entry, times, reason in _restorable(session, obj):
        if reason not in reasons:
            continue
        ledger.credit(
            session,
            Contribution(
                platform=entry.platform,
                account=entry.account,
                kind=entry.kind,
                object=entry.object,
                ref=f"{entry.ref.split(RECOVERED)[0]}{RECOVERED}{times}",
                weight=entry.weight,  # the credit it had: a recovery is no new score
                occurred_at=at,
                rule=entry.rule,
                scope=entry.scope,
                rules_version=entry.rules_version,
                units=entry.units,
            ),
        )
