"""Post scores, kept as Discourse keeps them.

A post's ``score`` column starts empty and PostSerializer sends ``object.score || 0``, so a
new post says ``"score": 0`` (an integer). Discourse's ScoreCalculator, run by the
periodical-updates job every few minutes, later stores a float computed from the post's
counters with ``default_score_weights`` (lib/score_calculator.rb). The sandbox has no
scheduler: ``calculate_scores`` is that job, for tests and the demo to run when they want
scored posts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

WEIGHTS = {"reply_count": 5, "like_score": 15, "incoming_link_count": 5, "bookmark_count": 2}
READS_WEIGHT = 0.2
LIKE = 2


def post_score(post: dict[str, Any]) -> int | float:
    """What PostSerializer sends: the stored score, or the integer 0 before the first run."""
    score = post.get("score")
    return 0 if score is None else float(score)


def calculate_scores(forum: Forum) -> None:
    """ScoreCalculator#update_posts_score for every post (bookmarks and incoming links are
    not modelled, so they count 0)."""
    posts = forum.table("posts").values()
    likes: dict[int, int] = {}
    for action in forum.table("post_actions").values():
        if action["post_action_type_id"] == LIKE and not action.get("deleted_at"):
            likes[action["post_id"]] = likes.get(action["post_id"], 0) + 1
    for post in posts:
        replies = sum(
            1
            for other in posts
            if other["topic_id"] == post["topic_id"]
            and other.get("reply_to_post_number") == post["post_number"]
            and not other.get("deleted_at")
        )
        post["score"] = float(
            WEIGHTS["reply_count"] * replies
            + WEIGHTS["like_score"] * likes.get(post["id"], 0)
            + READS_WEIGHT * int(post.get("reads") or 0)
        )
