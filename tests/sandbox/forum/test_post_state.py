"""A post's score, reads and hidden flag come from state the sandbox keeps, never constants."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.forum.scoring import calculate_scores
from tests.conftest import SessionForum


def call(forum: SessionForum, method: str, path: str, user: str = "system", **kw: Any) -> Any:
    headers = {"Api-Key": forum.api_key, "Api-Username": user}
    response = requests.request(method, forum.url + path, headers=headers, timeout=10, **kw)
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def member(forum: SessionForum) -> str:
    name = forum.name("m")
    call(
        forum,
        "POST",
        "/users.json",
        data={"username": name, "email": f"{name}@example.org", "active": "true"},
    )
    return name


def new_post(forum: SessionForum, author: str) -> dict[str, Any]:
    post: dict[str, Any] = call(
        forum,
        "POST",
        "/posts.json",
        user=author,
        data={"title": f"State topic {forum.name()}", "raw": "A post whose state is checked."},
    )
    return post


def test_a_new_post_has_score_0_and_no_reads(forum: SessionForum) -> None:
    post = call(forum, "GET", f"/posts/{new_post(forum, member(forum))['id']}.json")
    assert post["score"] == 0 and isinstance(post["score"], int)
    assert post["reads"] == 0
    assert post["hidden"] is False


def test_the_score_job_stores_a_float_score(forum: SessionForum) -> None:
    author, liker = member(forum), member(forum)
    post = new_post(forum, author)
    call(
        forum,
        "POST",
        "/post_actions.json",
        user=liker,
        data={"id": post["id"], "post_action_type_id": 2},
    )
    with forum.forum.lock:
        calculate_scores(forum.forum)
    scored = call(forum, "GET", f"/posts/{post['id']}.json")
    assert scored["score"] == 15.0 and isinstance(scored["score"], float)


def test_a_moderator_flag_that_takes_action_hides_the_post_until_unhidden(
    forum: SessionForum,
) -> None:
    author, flagger = member(forum), member(forum)
    post = new_post(forum, author)
    flag = {"id": post["id"], "post_action_type_id": 8}
    call(forum, "POST", "/post_actions.json", user=flagger, data=flag | {"take_action": "true"})
    assert call(forum, "GET", f"/posts/{post['id']}.json")["hidden"] is False
    call(forum, "POST", "/post_actions.json", data=flag | {"take_action": "true"})
    assert call(forum, "GET", f"/posts/{post['id']}.json")["hidden"] is True
    topic = call(forum, "GET", f"/t/{post['topic_id']}.json")
    assert topic["post_stream"]["posts"][0]["hidden"] is True
    call(forum, "PUT", f"/posts/{post['id']}/unhide.json")
    assert call(forum, "GET", f"/posts/{post['id']}.json")["hidden"] is False
