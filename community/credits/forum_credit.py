"""Credit from forum events (replies, likes, accepted solutions) and from practices.

Guards: only replies (not a topic's first post, not small actions or whispers, not in a
private message) earn reply credit; bots, our own accounts and the excluded list earn
nothing; no credit for liking one's own post or solving one's own topic. A deleted or
hidden post's credit is cancelled by counter-entries; a recovered post earns it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import ledger
from community.credits.ledger import Contribution
from community.credits.models import CreditEntry
from community.credits.rules import CreditRules, is_excluded, load_rules, normalise
from community.practices.models import Practice
from core.config import Settings
from core.errors import NotFound
from core.events import Event
from core.handling import HandlerContext
from webhooks.incoming.discourse_events import parse_time

REGULAR_POST = 1  # post_type: 2 moderator action, 3 small action, 4 whisper
PRIVATE_MESSAGE = "private_message"


def credit_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_created / post_edited / post_recovered: reply credit, or its return
    after a recovery or unhiding; a hidden post's credit is cancelled."""
    post: Mapping[str, Any] = event.payload["post"]
    obj = f"post:{int(post['id'])}"
    if post.get("hidden") or (post.get("deleted_at") and event.kind != "forum.post_recovered"):
        _cancel_post_credit(ctx, post, reason="post hidden", at=event.occurred_at)
        return
    rules = load_rules(ctx.settings)
    if not _creditable_reply(rules, ctx.settings, post):
        return
    if ledger.active_entries(ctx.session, platform="forum", object=obj, kind="forum_reply"):
        return
    cancels = [e for e in _entries(ctx.session, obj, "forum_reply") if e.cancels_key]
    if event.kind == "forum.post_created":
        ref, at = str(post["id"]), parse_time(post.get("created_at")) or event.occurred_at
    elif cancels and not _gone(ctx, post):  # it was deleted or hidden, and is back now
        # numbered by the cancellations so far: a second recovery is credited again,
        # a replayed one finds its key taken
        ref, at = f"{post['id']}:recovered:{len(cancels)}", event.occurred_at
    else:
        return  # an edit of a post we never credited (written before Constellate ran)
    ledger.credit(
        ctx.session,
        _contribution(rules, post, kind="forum_reply", ref=ref, at=at),
    )


def cancel_post(event: Event, ctx: HandlerContext) -> None:
    """forum.post_destroyed: every credit of the post is cancelled, the rows kept."""
    _cancel_post_credit(ctx, event.payload["post"], reason="post deleted", at=event.occurred_at)


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
    """forum.like_created / post_liked: one credit per distinct liker, never a self-like."""
    like: Mapping[str, Any] = event.payload["like"]
    post: Mapping[str, Any] = like["post"]
    liker = str(like["user"]["username"])
    rules = load_rules(ctx.settings)
    if normalise(liker) == normalise(str(post["username"])) or _in_private_message(post):
        return
    if is_excluded(rules, ctx.settings, "forum", liker, is_bot=_is_bot(like["user"])):
        return
    if not _creditable_author(rules, ctx.settings, post):
        return
    ledger.credit(
        ctx.session,
        _contribution(rules, post, kind="like_received", ref=f"like:{liker}", at=event.occurred_at),
    )


def credit_solution(event: Event, ctx: HandlerContext) -> None:
    """forum.solved_accepted_solution: credit to the reply's author, unless they started
    the topic themselves."""
    post: Mapping[str, Any] = event.payload["solved"]
    rules = load_rules(ctx.settings)
    if _in_private_message(post) or not _creditable_author(rules, ctx.settings, post):
        return
    if normalise(str(post["username"])) == normalise(_topic_author(ctx, post)):
        return
    ref = f"solution:{event.occurred_at.isoformat()}"
    ledger.credit(
        ctx.session,
        _contribution(rules, post, kind="accepted_solution", ref=ref, at=event.occurred_at),
    )


def cancel_solution(event: Event, ctx: HandlerContext) -> None:
    """forum.solved_unaccepted_solution: the solution's credit is cancelled."""
    post: Mapping[str, Any] = event.payload["solved"]
    ledger.cancel_object(
        ctx.session,
        platform="forum",
        object=f"post:{int(post['id'])}",
        kind="accepted_solution",
        reason="solution unaccepted",
        at=event.occurred_at,
        up_to=event.occurred_at,
    )


def credit_adoption(event: Event, ctx: HandlerContext) -> None:
    """community.practice_adopted: the practice's author is credited for being reused."""
    data = event.payload
    author, platform = data.get("author"), data.get("author_platform")
    if not author or platform not in ("wiki", "forum"):
        return  # a practice whose author is unknown credits no one
    rules = load_rules(ctx.settings)
    if is_excluded(rules, ctx.settings, str(platform), str(author)):
        return
    page_id = int(data["page_id"])
    ledger.credit(
        ctx.session,
        Contribution(
            platform=str(platform),
            account=str(author),
            kind="practice_adopted",
            object=f"practice:{page_id}",
            ref=f"adoption:{normalise(str(data['organisation']))}",
            weight=rules.weights["practice_adopted"],
            occurred_at=event.occurred_at,
            rule="practice_adopted",
            scope=f"page:{page_id}",
        ),
    )


def credit_practice_author(session: Session, practice: Practice, settings: Settings) -> bool:
    """practice_authored credit to the practice's author, once per practice; True when new."""
    if not practice.author or practice.author_platform not in ("wiki", "forum"):
        return False
    rules = load_rules(settings)
    if is_excluded(rules, settings, practice.author_platform, practice.author):
        return False
    return ledger.credit(
        session,
        Contribution(
            platform=practice.author_platform,
            account=practice.author,
            kind="practice_authored",
            object=f"practice:{practice.page_id}",
            ref="authored",
            weight=rules.weights["practice_authored"],
            occurred_at=practice.updated_at,
            rule="practice_authored",
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


def _topic_author(ctx: HandlerContext, post: Mapping[str, Any]) -> str:
    """Who started the post's topic: the first post's author, as the forum tells."""
    if int(post.get("post_number") or 0) == 1:
        return str(post["username"])
    topic = ctx.forum().get_topic(int(post["topic_id"]))
    creator = (topic.data.get("details") or {}).get("created_by") or {}
    if creator.get("username"):
        return str(creator["username"])
    return topic.posts[0].username if topic.posts else ""


def _contribution(
    rules: CreditRules, post: Mapping[str, Any], *, kind: str, ref: str, at: datetime
) -> Contribution:
    category = post.get("category_id")
    return Contribution(
        platform="forum",
        account=str(post["username"]),
        kind=kind,
        object=f"post:{int(post['id'])}",
        ref=ref,
        weight=rules.weights[kind],
        occurred_at=at,
        rule=kind,
        scope=f"category:{category}" if category is not None else None,
    )


def _entries(session: Session, obj: str, kind: str) -> list[CreditEntry]:
    """Every row for the object and kind, counter-entries included."""
    query = select(CreditEntry).where(
        CreditEntry.platform == "forum", CreditEntry.object == obj, CreditEntry.kind == kind
    )
    return list(session.scalars(query))
