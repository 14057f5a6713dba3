"""Private messages to groups: Discourse's ``target_recipients`` takes usernames and group
names; a group becomes an allowed group and its members may read the message.
ForumClient.send_message sends such a message exactly once per external id."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from connectors.discourse.client import ForumClient
from core.errors import InvalidRequest
from tests.conftest import SessionForum

BODY = "A body that is comfortably longer than twenty characters."


@pytest.fixture
def client(forum: SessionForum) -> ForumClient:
    return ForumClient(
        {"url": forum.url, "api_key": forum.api_key, "api_username": forum.api_username}
    )


def make_user(client: ForumClient, forum: SessionForum) -> str:
    username = forum.name("u")
    client.create_user(username, "Some One", f"{username}@example.org")
    return username


def group_with(client: ForumClient, forum: SessionForum, *members: str) -> str:
    group = client.create_group(forum.name("g"))
    client.add_group_members(group, members)
    return group.name


def message(forum: SessionForum, recipients: str, title: str | None = None) -> requests.Response:
    fields = {
        "title": title or f"A message about {forum.name('m')}",
        "raw": BODY,
        "archetype": "private_message",
        "target_recipients": recipients,
    }
    headers = {"Api-Key": forum.api_key, "Api-Username": "system"}
    return requests.post(f"{forum.url}/posts.json", data=fields, headers=headers, timeout=10)


def read_topic(forum: SessionForum, topic_id: int, username: str) -> requests.Response:
    headers = {"Api-Key": forum.api_key, "Api-Username": username}
    return requests.get(f"{forum.url}/t/{topic_id}.json", headers=headers, timeout=10)


def test_a_message_to_a_group_is_read_by_its_members_only(
    forum: SessionForum, client: ForumClient
) -> None:
    member, outsider = make_user(client, forum), make_user(client, forum)
    group = group_with(client, forum, member)
    answer = message(forum, group.upper())  # group names match case-insensitively
    assert answer.status_code == 200
    topic_id = answer.json()["topic_id"]
    seen = read_topic(forum, topic_id, member)
    assert seen.status_code == 200
    body: dict[str, Any] = seen.json()
    assert body["archetype"] == "private_message"
    assert body["post_stream"]["posts"][0]["cooked"]  # the member reads the post itself
    assert read_topic(forum, topic_id, outsider).status_code == 404


def test_users_and_groups_mix_and_an_unknown_name_keeps_discourses_error(
    forum: SessionForum, client: ForumClient
) -> None:
    member, direct = make_user(client, forum), make_user(client, forum)
    group = group_with(client, forum, member)
    answer = message(forum, f"{direct}, {group}")
    assert answer.status_code == 200
    topic_id = answer.json()["topic_id"]
    assert read_topic(forum, topic_id, direct).status_code == 200
    assert read_topic(forum, topic_id, member).status_code == 200

    unknown = forum.name("nobody")
    refused = message(forum, f"{group},{unknown}")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [f"Sorry, there is no user '{unknown}'."]


def test_send_message_is_exactly_once_by_external_id(
    forum: SessionForum, client: ForumClient
) -> None:
    member = make_user(client, forum)
    group = group_with(client, forum, member)
    external_id = forum.name("pm")
    title = f"Alert for the group {forum.name('t')}"
    first = client.send_message(title, BODY, [group], external_id=external_id)
    again = client.send_message(title, BODY, [group], external_id=external_id)
    assert first.created and not again.created
    assert again.topic_id == first.topic_id
    topic = client.acting_as(member).get_topic(first.topic_id)
    assert topic.title == title and [p.raw for p in topic.posts] == [BODY]
    assert topic.data["archetype"] == "private_message"

    plain = client.send_message(f"No external id {forum.name('t')}", BODY, [member])
    assert plain.created and plain.topic_id != first.topic_id
    with pytest.raises(InvalidRequest, match="at least one recipient"):
        client.send_message(f"Nobody at all {forum.name('t')}", BODY, [" "])
