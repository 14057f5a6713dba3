"""/u/{username}.json shows each viewer only what Discourse's UserSerializer shows them.

The anonymous key set is checked against the real anonymous answer recorded on
sourcecred-test.discourse.group (``GET_u_{username}.json__sourcecred-test_dl-proto.json``).
"""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import SessionForum
from tests.sandbox.forum.recordings import answer

ANONYMOUS_RECORDING = "GET_u_{username}.json__sourcecred-test_dl-proto.json"
PRIVATE = {
    "user_option",
    "group_users",
    "muted_usernames",
    "muted_category_ids",
    "locale",
    "post_count",
    "can_be_deleted",
    "can_delete_all_posts",
    "second_factor_enabled",
}


def profile(forum: SessionForum, username: str, viewer: str | None) -> dict[str, Any]:
    headers = {"Accept": "application/json"}
    if viewer:
        headers |= {"Api-Key": forum.api_key, "Api-Username": viewer}
    response = requests.get(f"{forum.url}/u/{username}.json", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


def member(forum: SessionForum) -> str:
    name = forum.name("p")
    forum.client().create_user(name, name, f"{name}@example.org", "a-long-password", active="true")
    return name


def test_anonymous_viewers_get_only_the_public_keys(forum: SessionForum) -> None:
    shown = profile(forum, member(forum), None)
    recorded = set(answer(ANONYMOUS_RECORDING)["user"])
    assert set(shown) <= recorded
    assert not set(shown) & (PRIVATE | {"email"})


def test_an_admin_key_does_not_read_another_user_s_email(forum: SessionForum) -> None:
    shown = profile(forum, member(forum), "system")
    assert "email" not in shown
    assert set(shown) >= PRIVATE  # staff may edit the user, so they see the rest


def test_users_see_their_own_email_and_settings(forum: SessionForum) -> None:
    name = member(forum)
    shown = profile(forum, name, name)
    assert shown["email"] == f"{name}@example.org"
    assert {"user_option", "group_users", "locale", "muted_usernames"} <= set(shown)
    assert not {"post_count", "can_be_deleted", "can_delete_all_posts"} & set(shown)


def test_other_members_see_neither_email_nor_settings(forum: SessionForum) -> None:
    shown = profile(forum, member(forum), member(forum))
    assert not set(shown) & (PRIVATE | {"email"})


def test_staff_see_the_email_of_a_staged_user(forum: SessionForum) -> None:
    name = member(forum)
    with forum.forum.lock:
        user = forum.forum.user_by_username(name)
        assert user is not None
        user["staged"] = True
    assert profile(forum, name, "system")["email"] == f"{name}@example.org"


def test_only_the_user_or_staff_may_change_a_profile(forum: SessionForum) -> None:
    """PUT /u/{username}.json: Guardian#can_edit_user? (the user themself or staff)."""
    name, other = member(forum), member(forum)

    def rename(viewer: str, to: str) -> int:
        headers = {"Api-Key": forum.api_key, "Api-Username": viewer}
        url = f"{forum.url}/u/{name}.json"
        return requests.put(url, headers=headers, data={"name": to}, timeout=10).status_code

    assert rename(other, "Not Allowed") == 403
    assert rename(name, "Renamed By Self") == 200
    assert rename("system", "Renamed By Staff") == 200
    assert profile(forum, name, None)["name"] == "Renamed By Staff"
