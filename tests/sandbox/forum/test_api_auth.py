"""Auth, rate limits, error bodies and persistence, seen through pydiscourse."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import DiscourseClientError, DiscourseRateLimitedError

from sandbox.forum.server import ForumServer
from tests.conftest import SessionForum

INVALID = {
    "errors": [
        "You are not permitted to view the requested resource. The API username or key is invalid."
    ],
    "error_type": "invalid_access",
}
BODY = "A body that is comfortably longer than twenty characters."


@pytest.mark.parametrize("wrong", ["key", "user"])
def test_bad_key_or_unknown_user_is_403_invalid_access(forum: SessionForum, wrong: str) -> None:
    key = "not-the-key" if wrong == "key" else forum.api_key
    username = "system" if wrong == "key" else forum.name("nobody")
    client = DiscourseClient(forum.url, api_username=username, api_key=key, timeout=10)
    with pytest.raises(DiscourseClientError) as denied:
        client.latest_topics()
    assert denied.value.response.status_code == 403
    assert denied.value.response.json() == INVALID


def test_unknown_routes_and_objects_are_404_not_found(forum: SessionForum) -> None:
    for path in ("/no/such/route.json", "/t/999999.json", "/u/nobody-here.json"):
        response = requests.get(forum.url + path, timeout=10)
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.json() == {
            "errors": ["The requested URL or resource could not be found."],
            "error_type": "not_found",
        }


def test_missing_required_param_is_400(forum: SessionForum) -> None:
    response = requests.post(
        forum.url + "/categories.json",
        headers={"Api-Key": forum.api_key, "Api-Username": "system"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"errors": ["param is missing or the value is empty: name"]}


def test_anonymous_reads_public_but_cannot_write(forum: SessionForum) -> None:
    assert "topic_list" in requests.get(forum.url + "/latest.json", timeout=10).json()
    response = requests.post(forum.url + "/posts.json", data={"raw": BODY}, timeout=10)
    assert response.status_code == 403


def test_admin_rate_limit_is_429_with_discourse_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr("pydiscourse.client.time.sleep", sleeps.append)
    with ForumServer(rate_limit_per_minute=2) as server:
        client = DiscourseClient(
            server.url, api_username="system", api_key=server.api_key, timeout=10
        )
        client.about()
        client.about()
        with pytest.raises(DiscourseRateLimitedError) as limited:
            client.about()
        response = limited.value.response
        assert response.status_code == 429
        wait = int(response.headers["Retry-After"])
        assert 1 <= wait <= 60
        assert response.headers["Discourse-Rate-Limit-Error-Code"] == "admin_api_key_rate_limit"
        body = response.json()
        assert body["error_type"] == "rate_limit"
        assert body["extras"]["wait_seconds"] == wait
        assert "time_left" in body["extras"]
        # pydiscourse sleeps 1 + wait_seconds between its 4 attempts.
        assert len(sleeps) == 3
        assert all(abs(s - (1 + wait)) <= 1 for s in sleeps)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "forum.json"
    with ForumServer(state_file=state, api_key="k" * 32) as first:
        client = DiscourseClient(first.url, api_username="system", api_key="k" * 32, timeout=10)
        post = client.create_post(BODY, title="A topic that must persist")
        client.site_settings(min_post_length=5)
    with ForumServer(state_file=state, api_key="k" * 32) as second:
        client = DiscourseClient(second.url, api_username="system", api_key="k" * 32, timeout=10)
        view = client.topic(post["topic_slug"], post["topic_id"])
        assert view["title"] == "A topic that must persist"
        assert second.forum is not None
        assert second.forum.site_settings["min_post_length"] == 5
        reply = client.create_post(BODY, topic_id=post["topic_id"])
        assert reply["id"] > post["id"]
