"""The forum's history read into what the live path keeps of it, with few requests.

- Posts: ``/posts.json?before=`` pages (50 posts each, newest first) into activity rows
  and reply credit, the same functions the post handlers use; one page is one batch,
  committed with the next page's ``before``. The posts already carry discourse-solved's
  ``accepted_answer``, so solutions cost no request: they are kept in the cursor and
  credited once every post (so every topic's opening post, its author) has been read.
- Likes: one ``/directory_items.json`` page (50 people, most likes given first) names who
  gave likes; each of them is one batch of ``/user_actions.json`` (likes given, 100 a
  page), committed with the position in that list. No request per post.

The same ledger keys as the live path (``post:<id>`` with the reply, ``like:<name>`` and
``solution:<n>`` refs), so a webhook that later brings the same post, like or solution
writes nothing. The directory is refreshed by Discourse on a schedule: likes given in
the last hour or so may be missing from it; their webhooks bring them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity, keep_like, keep_listed_post
from community.backfill import cursors
from community.credits.forum_credit import (
    TopicFacts,
    credit_accepted,
    credit_liked,
    credit_reply,
)
from connectors.discourse.client import ForumClient
from core import clock
from core.config import Settings
from core.errors import NotFound
from core.times import parse_time

LIKES_PAGE = 100  # /user_actions.json's largest page
DIRECTORY_PAGE = 50
# What a solved post keeps in the cursor until the solutions are credited.
SOLVED_FIELDS = (
    "id",
    "topic_id",
    "post_number",
    "username",
    "user_id",
    "category_id",
    "created_at",  # the stand-in for when it was accepted
)
Progress = Callable[[int, int | None], None]  # (done, in all when known)


@dataclass
class ForumReport:
    posts: int = 0
    solutions: int = 0
    likers: int = 0
    likes: int = 0


def backfill_posts(
    batch: cursors.Batch,
    forum: ForumClient,
    settings: Settings,
    report: ForumReport,
    *,
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Every public post, newest first, then the solutions among them."""
    while keep_going():
        with batch() as session:
            state = cursors.read(session, cursors.POSTS)
        if state.get("done"):
            return
        page = forum.latest_posts(before=state.get("before"))
        with batch() as session:
            solved = list(state.get("solved") or [])
            for post in page:
                keep_listed_post(session, post.data, clock.now())
                credit_reply(session, settings, post.data, at=clock.now())
                if post.data.get("accepted_answer"):
                    solved.append({k: post.data.get(k) for k in SOLVED_FIELDS})
            oldest = min((post.id for post in page), default=0)
            done = oldest <= 1
            if done:
                report.solutions += _credit_solutions(session, forum, settings, solved)
            top = int(state.get("top") or max((post.id for post in page), default=0))
            cursors.write(
                session,
                cursors.POSTS,
                {"before": oldest - 1, "top": top, "solved": [] if done else solved, "done": done},
            )
        report.posts += len(page)
        if progress is not None:
            progress(top - oldest + 1 if page else top, top)


def _credit_solutions(
    session: Session, forum: ForumClient, settings: Settings, solved: list[dict[str, Any]]
) -> int:
    """The accepted answers the posts showed, through the live path's guards; the topic's
    author is its opening post's, read already (the forum is asked only for a topic whose
    opening post it did not list)."""
    credited = 0
    for post in solved:

        def facts(post: Mapping[str, Any] = post) -> TopicFacts | None:
            author = session.scalar(
                select(ForumPostActivity.username).where(
                    ForumPostActivity.topic_id == int(post["topic_id"]),
                    ForumPostActivity.post_number == 1,
                )
            )
            if author is None:
                try:
                    topic = forum.get_topic(int(post["topic_id"]))
                except NotFound:
                    return None
                creator = (topic.data.get("details") or {}).get("created_by") or {}
                author = str(creator.get("username") or "")
            return TopicFacts(author=author, accepted=True)

        credited += credit_accepted(session, settings, post, facts, at=_created(post))
    return credited


def _created(post: Mapping[str, Any]) -> Any:
    # /posts.json does not say when a solution was accepted: the answer's own time stands in.
    return parse_time(post.get("created_at")) or clock.now()


def backfill_likes(
    batch: cursors.Batch,
    forum: ForumClient,
    settings: Settings,
    report: ForumReport,
    *,
    progress: Progress | None = None,
    keep_going: Callable[[], bool] = lambda: True,
) -> None:
    """Every like, person by person (after the posts: a like is credited from the post's
    row, which says who wrote it and where)."""
    with batch() as session:
        state = cursors.read(session, cursors.LIKES)
        posts_read = cursors.is_done(session, cursors.POSTS)
    if state.get("done") or not posts_read or not keep_going():
        return
    if "likers" not in state:
        state = {"likers": _likers(forum), "next": 0, "done": False}
        with batch() as session:
            cursors.write(session, cursors.LIKES, state)
    likers: list[list[Any]] = state["likers"]
    for index in range(int(state["next"]), len(likers)):
        if not keep_going():
            return
        username, given = str(likers[index][0]), int(likers[index][1])
        actions = _likes_of(forum, username, given)
        with batch() as session:
            report.likes += sum(_keep(session, settings, action) for action in actions)
            last = index + 1 == len(likers)
            cursors.write(
                session, cursors.LIKES, {"likers": likers, "next": index + 1, "done": last}
            )
        report.likers += 1
        if progress is not None:
            progress(index + 1, len(likers))
    if not likers:
        with batch() as session:
            cursors.write(session, cursors.LIKES, {"likers": [], "next": 0, "done": True})


def _likers(forum: ForumClient) -> list[list[Any]]:
    """Who gave likes, and how many, from the directory (most first: its pages end at the
    first person who gave none)."""
    likers: list[list[Any]] = []
    page = 0
    while True:
        answer = forum.directory_page(page, order="likes_given")
        items = answer.get("directory_items") or []
        for item in items:
            if int(item.get("likes_given") or 0) <= 0:
                return likers
            likers.append([str(item["user"]["username"]), int(item["likes_given"])])
        total = int((answer.get("meta") or {}).get("total_rows_directory_items") or 0)
        page += 1
        if len(items) < DIRECTORY_PAGE or page * DIRECTORY_PAGE >= total:
            return likers


def _likes_of(forum: ForumClient, username: str, given: int) -> list[dict[str, Any]]:
    """All of one person's likes: pages until one comes back short once the count the
    directory gave is reached (an older forum may answer 30 a page whatever is asked),
    or empty."""
    actions: list[dict[str, Any]] = []
    while True:
        page = forum.likes_given(username, offset=len(actions), limit=LIKES_PAGE)
        actions.extend(page)
        if not page or (len(page) < LIKES_PAGE and len(actions) >= given):
            return actions


def _keep(session: Session, settings: Settings, action: Mapping[str, Any]) -> bool:
    """One like: kept as the like webhook's row, and credited through its guards from the
    post's row (a post the history did not list, such as a private message's, earns
    nothing). True when it was credited now."""
    if action.get("deleted") or not action.get("post_id"):
        return False
    at = parse_time(action.get("created_at")) or clock.now()
    post_id, liker = int(action["post_id"]), str(action["acting_username"])
    keep_like(session, post_id=post_id, username=liker, topic_id=int(action["topic_id"]), at=at)
    row = session.scalar(select(ForumPostActivity).where(ForumPostActivity.post_id == post_id))
    if row is None or row.deleted or row.hidden or row.private:
        return False
    post = {
        "id": post_id,
        "topic_id": row.topic_id,
        "post_number": row.post_number,
        "username": row.username,
        "user_id": action.get("user_id"),
        "category_id": row.category_id,
    }
    liked_by = {"username": liker, "id": action.get("acting_user_id")}
    return credit_liked(session, settings, post, liked_by, at=at)
