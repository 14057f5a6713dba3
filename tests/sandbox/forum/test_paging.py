"""Every continuation link the sandbox gives answers as Discourse's does, past one page.

A forum of its own: 80 groups (3 pages of /groups.json), a group of 120 members (3 pages of
members), 70 topics (3 pages of /latest and of a subcategory's list).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pydiscourse import DiscourseClient

from sandbox.forum.server import ForumServer
from tests.conftest import UNTHROTTLED

GROUPS = 80
MEMBERS = 120
TOPICS = 70


class Api:
    def __init__(self, server: ForumServer) -> None:
        self.server = server
        self.headers = {"Api-Key": server.api_key, "Api-Username": "system"}

    def get(self, path: str, *, anonymous: bool = False, **params: Any) -> requests.Response:
        return requests.get(
            self.server.url + path,
            params=params,
            headers={"Accept": "application/json"} if anonymous else self.headers,
            timeout=10,
            allow_redirects=False,
        )

    def json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, method: str = "POST", **kwargs: Any) -> Any:
        response = requests.request(
            method, self.server.url + path, headers=self.headers, timeout=10, **kwargs
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    with ForumServer(rate_limit_per_minute=UNTHROTTLED) as server:
        api = Api(server)
        forum = server.forum
        assert forum is not None
        tag = uuid.uuid4().hex[:6]
        group_ids = [
            api.post("/admin/groups.json", json={"group": {"name": f"g{tag}{n:03d}"}})[
                "basic_group"
            ]["id"]
            for n in range(GROUPS)
        ]
        names = []
        for n in range(MEMBERS):
            name = f"m{tag}{n:03d}"
            api.post(
                "/users.json",
                data={"username": name, "email": f"{name}@example.org", "active": "true"},
            )
            names.append(name)
        api.post(f"/groups/{group_ids[0]}/members.json", "PUT", data={"usernames": ",".join(names)})
        parent = api.post("/categories.json", data={"name": "Parent", "color": "0088CC"})
        child = api.post(
            "/categories.json",
            data={
                "name": "Child",
                "color": "0088CC",
                "parent_category_id": parent["category"]["id"],
            },
        )
        for n in range(TOPICS):
            api.post(
                "/posts.json",
                data={
                    "title": f"Paged topic number {n:03d} {tag}",
                    "raw": "A topic to fill the pages of the lists.",
                    "category": child["category"]["id"],
                },
            )
        api.server.child = child["category"]  # type: ignore[attr-defined]
        api.server.group = f"g{tag}000"  # type: ignore[attr-defined]
        yield api


def follow(api: Api, first: str, link: str, list_key: str, **params: Any) -> list[Any]:
    """Every page: the first, then each continuation link until there is none."""
    pages = [api.json(first, **params)]
    while pages[-1].get(link) or pages[-1].get("topic_list", {}).get(link):
        url = pages[-1].get(link) or pages[-1]["topic_list"][link]
        assert ".json" not in url
        pages.append(api.json(url))
        if list_key == "groups" and not pages[-1]["groups"]:
            break
    return pages


def test_groups_come_36_a_page_and_the_page_past_the_end_is_empty(api: Api) -> None:
    first = api.json("/groups.json")
    total = first["total_rows_groups"]
    assert total >= GROUPS
    seen = []
    page = 0
    body = first
    while body["groups"]:
        assert len(body["groups"]) == min(36, total - page * 36)
        assert body["load_more_groups"] == f"/groups?page={page + 1}"
        assert body["total_rows_groups"] == total
        seen += [g["name"] for g in body["groups"]]
        page += 1
        body = api.json(body["load_more_groups"])
    assert body["load_more_groups"] == f"/groups?page={page + 1}"
    assert len(seen) == len(set(seen)) == total
    assert page == -(-total // 36)
    assert "everyone" not in seen


def test_group_members_page_by_limit_and_offset(api: Api) -> None:
    group = api.server.group  # type: ignore[attr-defined]
    body = api.json(f"/groups/{group}/members.json")
    assert body["meta"] == {"total": MEMBERS, "limit": 50, "offset": 0}
    seen = []
    offset = 0
    while offset < body["meta"]["total"]:
        body = api.json(f"/groups/{group}/members.json", offset=offset, limit=50)
        assert body["meta"] == {"total": MEMBERS, "limit": 50, "offset": offset}
        seen += [m["username"] for m in body["members"]]
        offset += 50
    assert len(seen) == len(set(seen)) == MEMBERS
    assert api.get(f"/groups/{group}/members.json", limit=1001).status_code == 400
    assert api.get(f"/groups/{group}/members.json", offset=-1).status_code == 400


def test_pydiscourse_reads_every_member(api: Api) -> None:
    client = DiscourseClient(
        api.server.url, api_username="system", api_key=api.server.api_key, timeout=10
    )
    members = client.group_members(api.server.group)  # type: ignore[attr-defined]
    assert len(members) == MEMBERS


def test_latest_keeps_its_query_in_the_next_link(api: Api) -> None:
    body = api.json("/latest.json", order="activity", ascending="false", page=0)
    assert (
        body["topic_list"]["more_topics_url"]
        == "/latest?ascending=false&no_definitions=true&order=activity&page=1"
    )
    pages = follow(
        api, "/latest.json", "more_topics_url", "topics", order="created", ascending="true"
    )
    titles = [t["title"] for p in pages for t in p["topic_list"]["topics"]]
    assert len(titles) == len(set(titles)) >= TOPICS
    assert titles == sorted(titles)  # created in title order, ascending
    assert all(len(p["topic_list"]["topics"]) == 30 for p in pages[:-1])
    assert "more_topics_url" not in pages[-1]["topic_list"]


def test_a_subcategory_answers_at_its_id_and_at_its_parent_child_path(api: Api) -> None:
    child = api.server.child  # type: ignore[attr-defined]
    redirected = api.get(f"/c/{child['id']}.json", page=1)
    assert redirected.status_code == 301
    location = redirected.headers["Location"]
    assert location.endswith(f"/c/parent/child/{child['id']}.json?page=1")
    body = api.json(location.removeprefix(api.server.url))
    assert len(body["topic_list"]["topics"]) == 30
    assert body["topic_list"]["more_topics_url"] == f"/c/parent/child/{child['id']}/l/latest?page=2"
    pages = follow(api, f"/c/parent/child/{child['id']}.json", "more_topics_url", "topics")
    ids = [t["id"] for p in pages for t in p["topic_list"]["topics"]]
    assert len(ids) == len(set(ids)) == TOPICS
    # pydiscourse follows the redirect from /c/{id}.json.
    client = DiscourseClient(
        api.server.url, api_username="system", api_key=api.server.api_key, timeout=10
    )
    assert len(client.category_topics(child["id"])["topic_list"]["topics"]) == 30
    wrong = api.get(f"/c/wrong/{child['id']}.json")
    assert wrong.status_code == 301
    assert wrong.headers["Location"].endswith(f"/c/parent/child/{child['id']}.json")
