"""Fidelity of the sandbox's API answers against answers recorded from Discourse.

For every recorded answer in ``tests/fixtures/discourse/real`` of an endpoint the sandbox
serves, the sandbox gets the same call (same method, path shape, parameters and kind of
viewer: anonymous for the sourcecred-test snapshots, the admin key otherwise) and its answer
must have the same keys and JSON types, recursively (``shapes``). Every accepted difference
is named in ``fidelity_allowances`` with its reason; for the official examples of old
versions (2015-2020), a key the current openapi.json documents (or no longer documents)
is accepted on that evidence.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from sandbox.forum.scoring import calculate_scores
from sandbox.forum.server import ForumServer
from tests.conftest import UNTHROTTLED
from tests.sandbox.forum import fidelity_allowances as allow
from tests.sandbox.forum.recordings import answer, answer_names
from tests.sandbox.forum.shapes import differences, learn, unexplained

FILLER_TOPICS = 36  # with the two topics below: 31..59 listed, so /latest has two pages
LONG_TOPIC_POSTS = 21  # 20 on the first page, 1 on the second (as sourcecred's topic 26)


@dataclass
class Api:
    server: ForumServer
    ids: dict[str, Any] = field(default_factory=dict)

    def call(
        self, method: str, path: str, viewer: str | None = "system", **kwargs: Any
    ) -> requests.Response:
        headers = {"Accept": "application/json"}
        if viewer is not None:
            headers |= {"Api-Key": self.server.api_key, "Api-Username": viewer}
        return requests.request(
            method, self.server.url + path, headers=headers, timeout=10, **kwargs
        )

    def json(self, method: str, path: str, viewer: str | None = "system", **kwargs: Any) -> Any:
        response = self.call(method, path, viewer, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        return response.json()


def _user(api: Api, prefix: str, name: str) -> str:
    username = f"{prefix}{uuid.uuid4().hex[:6]}"
    api.json(
        "POST",
        "/users.json",
        data={
            "username": username,
            "email": f"{username}@example.org",
            "password": uuid.uuid4().hex,
            "name": name,
            "active": "true",
            "approved": "true",
        },
    )
    return username


def _post(api: Api, author: str, **data: Any) -> dict[str, Any]:
    post: dict[str, Any] = api.json("POST", "/posts.json", author, data=data)
    return post


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A forum like the recorded ones: members, a parent and a child category, a topic of
    21 posts with a like, a short topic, enough topics for two pages
    of /latest, a badge grant and a group."""
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        api = Api(server)
        alice = _user(api, "alice", "Alice Example")
        bob = _user(api, "bob", "Bob Example")
        parent = api.json("POST", "/categories.json", data={"name": "Parent", "color": "0088CC"})
        child = api.json(
            "POST",
            "/categories.json",
            data={
                "name": "Child",
                "color": "0088CC",
                "parent_category_id": parent["category"]["id"],
            },
        )
        first = _post(
            api,
            alice,
            title="A long topic for the recorded shapes",
            raw="The first post of a long topic.",
            category=parent["category"]["id"],
            **{"tags[]": ["shapes"]},
        )
        replies = [
            _post(
                api,
                bob if n % 2 else alice,
                topic_id=first["topic_id"],
                raw=f"Reply number {n} in the long topic.",
            )
            for n in range(2, LONG_TOPIC_POSTS + 1)
        ]
        api.json(
            "POST", "/post_actions.json", bob, data={"id": first["id"], "post_action_type_id": 2}
        )
        short = _post(
            api,
            bob,
            title="A short topic with a reply",
            raw="A short topic's first post.",
            category=child["category"]["id"],
        )
        _post(api, alice, topic_id=short["topic_id"], raw="The one reply of the short topic.")
        for n in range(FILLER_TOPICS):
            _post(
                api,
                bob,
                title=f"Filler topic number {n:03d}",
                raw="A topic to fill the list of latest topics.",
            )
        # The recorded posts were older than a run of the score job: run it (scoring.py).
        assert server.forum is not None
        with server.forum.lock:
            calculate_scores(server.forum)
        badge = api.json("POST", "/admin/badges.json", data={"name": "Shapes", "badge_type_id": 3})
        api.json(
            "POST", "/user_badges.json", data={"username": alice, "badge_id": badge["badge"]["id"]}
        )
        group = api.json("POST", "/admin/groups.json", json={"group": {"name": "shapers"}})
        api.json(
            "PUT",
            f"/groups/{group['basic_group']['id']}/members.json",
            data={"usernames": f"{alice},{bob}"},
        )
        api.ids = {
            "alice": alice,
            "alice_id": first["user_id"],
            "parent": parent["category"]["id"],
            "long": first["topic_id"],
            "short": short["topic_id"],
            "post": replies[1]["id"],
        }
        yield api


# recording -> (method, path, request keywords, viewer), from the world's ids.
Call = Callable[[dict[str, Any]], tuple[str, str, dict[str, Any], str | None]]
CALLS: dict[str, Call] = {
    "GET_admin_badges.json__apidocs.json": lambda i: ("GET", "/admin/badges.json", {}, "system"),
    "GET_admin_users_list_{flag}.json__discourse_api-gem.json": lambda i: (
        "GET",
        "/admin/users/list/active.json",
        {"params": {"show_emails": "true"}},
        "system",
    ),
    "GET_admin_users_{id}.json__apidocs.json": lambda i: (
        "GET",
        f"/admin/users/{i['alice_id']}.json",
        {},
        "system",
    ),
    "GET_admin_users_{id}.json__discourse_api-gem.json": lambda i: (
        "GET",
        f"/admin/users/{i['alice_id']}.json",
        {},
        "system",
    ),
    "GET_categories.json__sourcecred-test.json": lambda i: (
        "GET",
        "/categories.json",
        {"params": {"show_subcategory_list": "true"}},
        None,
    ),
    "GET_categories.json__sourcecred-test_parent5.json": lambda i: (
        "GET",
        "/categories.json",
        {"params": {"show_subcategory_list": "true", "parent_category_id": i["parent"]}},
        None,
    ),
    "GET_groups.json__apidocs-2016.json": lambda i: ("GET", "/groups.json", {}, "system"),
    "GET_groups_{name}_members.json__apidocs.json": lambda i: (
        "GET",
        "/groups/shapers/members.json",
        {},
        "system",
    ),
    "GET_latest.json__sourcecred-test_page0.json": lambda i: (
        "GET",
        "/latest.json",
        {"params": {"order": "activity", "ascending": "false", "page": 0}},
        None,
    ),
    "GET_latest.json__sourcecred-test_page1.json": lambda i: (
        "GET",
        "/latest.json",
        {"params": {"order": "activity", "ascending": "false", "page": 1}},
        None,
    ),
    "GET_posts.json__before__discourse_api-gem.json": lambda i: (
        "GET",
        "/posts.json",
        {"params": {"before": i["post"]}},
        "system",
    ),
    "GET_posts.json__discourse_api-gem.json": lambda i: ("GET", "/posts.json", {}, "system"),
    "GET_posts_{id}.json__apidocs.json": lambda i: (
        "GET",
        f"/posts/{i['post']}.json",
        {},
        "system",
    ),
    "GET_t_{id}.json__sourcecred-test_t11.json": lambda i: (
        "GET",
        f"/t/{i['short']}.json",
        {},
        None,
    ),
    "GET_t_{id}.json__sourcecred-test_t26.json": lambda i: (
        "GET",
        f"/t/{i['long']}.json",
        {},
        None,
    ),
    "GET_t_{id}.json__sourcecred-test_t26_page2.json": lambda i: (
        "GET",
        f"/t/{i['long']}.json",
        {"params": {"page": 2}},
        None,
    ),
    "GET_u_{username}.json__apidocs.json": lambda i: (
        "GET",
        f"/u/{i['alice']}.json",
        {},
        "system",
    ),
    "GET_u_{username}.json__sourcecred-test_dl-proto.json": lambda i: (
        "GET",
        f"/users/{i['alice']}.json",
        {},
        None,
    ),
    "GET_u_{username}.json__sourcecred-test_system.json": lambda i: (
        "GET",
        "/users/system.json",
        {},
        None,
    ),
    "GET_user-badges_{username}.json__discourse_api-gem.json": lambda i: (
        "GET",
        f"/user-badges/{i['alice']}.json",
        {},
        "system",
    ),
    "POST_admin_groups.json__apidocs.json": lambda i: (
        "POST",
        "/admin/groups.json",
        {"json": {"group": {"name": f"g{uuid.uuid4().hex[:8]}"}}},
        "system",
    ),
    "POST_posts.json__apidocs.json": lambda i: (
        "POST",
        "/posts.json",
        {
            "data": {
                "title": f"A new topic {uuid.uuid4().hex[:8]}",
                "raw": "A new topic's first post, long enough.",
            }
        },
        "system",
    ),
    "POST_posts.json__discourse_api-gem.json": lambda i: (
        "POST",
        "/posts.json",
        {
            "data": {
                "title": f"A tagged topic {uuid.uuid4().hex[:8]}",
                "raw": "A new topic with tags, long enough.",
                "tags[]": ["shapes", "gem"],
            }
        },
        "system",
    ),
    "POST_users.json__apidocs.json": lambda i: (
        "POST",
        "/users.json",
        {
            "data": {
                "username": f"n{uuid.uuid4().hex[:8]}",
                "email": f"{uuid.uuid4().hex[:8]}@example.org",
                "password": uuid.uuid4().hex,
                "active": "true",
            }
        },
        "system",
    ),
    "PUT_categories_{id}.json__apidocs.json": lambda i: (
        "PUT",
        f"/categories/{i['parent']}.json",
        {"data": {"description": "The parent category."}},
        "system",
    ),
    "PUT_posts_{id}.json__apidocs.json": lambda i: (
        "PUT",
        f"/posts/{i['post']}.json",
        {"data": {"post[raw]": f"An edited reply, long enough {uuid.uuid4().hex[:8]}."}},
        "system",
    ),
    "PUT_t_-_{id}.json__apidocs.json": lambda i: (
        "PUT",
        f"/t/-/{i['short']}.json",
        {"data": {"title": f"A renamed short topic {uuid.uuid4().hex[:8]}"}},
        "system",
    ),
}


def test_every_recorded_answer_has_a_call() -> None:
    assert set(answer_names()) == set(CALLS)


@pytest.mark.parametrize("name", answer_names())
def test_answer_keys_and_types_are_the_recorded_ones(name: str, api: Api) -> None:
    method, path, kwargs, viewer = CALLS[name](api.ids)
    mine = api.json(method, path, viewer, **kwargs)
    recorded = answer(name)
    recorded, mine = allow.comparable(name, recorded, mine)
    found = differences(learn(recorded), mine)
    left = unexplained(found, allow.for_answer(name, found))
    assert not left, f"{name}:\n" + "\n".join(map(str, left))
