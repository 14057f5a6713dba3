"""The user, user_badge and group_user payloads' keys as Discourse's source and specs give
them. Real recordings of these now exist too (SOURCES.md; test_fidelity_webhooks.py holds
the sandbox to them); this is the second witness, for core without plugins.

* user: spec/serializers/web_hook_user_serializer_spec.rb ("should only include the
  required keys", newest version; ``external_id`` only with a DiscourseConnect record);
* user_badge: UserBadgeSerializer, which the user_badge_granted/revoked handlers in
  config/initializers/012-web_hook_events.rb use, rendered with ``root: false`` (the ids of
  badge, user and granter; post fields only for a badge that shows posts); a trimmed live
  capture from talk.openmrs.org has the same six keys;
* group_user: WebHookGroupUserSerializer < BasicGroupUserSerializer, whose ``owner`` is only
  included for the scope user (the system user, for webhooks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox.forum.fidelity_world import World, running_world, unique

USER_KEYS = {
    "admin",
    "allowed_pm_usernames",
    "avatar_template",
    "badge_count",
    "can_ignore_users",
    "can_mute_users",
    "can_upload_profile_header",
    "can_upload_user_card_background",
    "created_at",
    "email",
    "featured_topic",
    "featured_user_badge_ids",
    "flair_bg_color",
    "flair_color",
    "flair_group_id",
    "flair_name",
    "flair_url",
    "groups",
    "id",
    "ignored_usernames",
    "invited_by",
    "last_posted_at",
    "last_seen_at",
    "locale",
    "mailing_list_posts_per_day",
    "moderator",
    "muted_category_ids",
    "muted_tags",
    "muted_usernames",
    "muted",
    "name",
    "pending_count",
    "post_count",
    "primary_group_id",
    "primary_group_name",
    "profile_view_count",
    "recent_time_read",
    "regular_category_ids",
    "second_factor_enabled",
    "secondary_emails",
    "staged",
    "system_avatar_template",
    "time_read",
    "title",
    "tracked_category_ids",
    "tracked_tags",
    "trust_level",
    "user_notification_schedule",
    "user_option",
    "username",
    "watched_category_ids",
    "watched_first_post_category_ids",
    "watched_tags",
    "watching_first_post_tags",
}
USER_BADGE_KEYS = ["id", "granted_at", "created_at", "badge_id", "user_id", "granted_by_id"]
GROUP_USER_KEYS = ["group_id", "user_id", "notification_level", "id", "created_at"]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    yield from running_world()


def payload(world: World, since: tuple[int, int], event: str) -> Any:
    received = world.delivered(since, event)
    return received.json[received.headers["x-discourse-event-type"]]


def test_user_created_has_the_spec_s_keys(world: World) -> None:
    since = world.mark()
    world.new_user("dave")
    # discourse-solved, which the sandbox runs, adds accepted_answers (as recorded).
    assert set(payload(world, since, "user_created")) == USER_KEYS | {"accepted_answers"}


def test_user_badge_events_have_the_serializer_s_keys(world: World) -> None:
    badge = world.call(
        "POST", "/admin/badges.json", data={"name": unique("Badge "), "badge_type_id": 3}
    )["badge"]
    since = world.mark()
    granted = world.call(
        "POST", "/user_badges.json", data={"username": world.alice, "badge_id": badge["id"]}
    )["user_badge"]
    assert list(payload(world, since, "user_badge_granted")) == USER_BADGE_KEYS
    since = world.mark()
    world.call("DELETE", f"/user_badges/{granted['id']}.json")
    assert list(payload(world, since, "user_badge_revoked")) == USER_BADGE_KEYS


def test_a_badge_that_shows_posts_adds_the_post_fields(world: World) -> None:
    badge = world.call(
        "POST",
        "/admin/badges.json",
        data={"name": unique("Badge "), "badge_type_id": 3, "show_posts": "true"},
    )["badge"]
    post = world.topic(world.alice)
    since = world.mark()
    reason = f"{world.server.url}/t/{post['topic_slug']}/{post['topic_id']}"
    world.call(
        "POST",
        "/user_badges.json",
        data={"username": world.alice, "badge_id": badge["id"], "reason": reason},
    )
    assert list(payload(world, since, "user_badge_granted")) == [
        "id",
        "granted_at",
        "created_at",
        "post_id",
        "post_number",
        "badge_id",
        "user_id",
        "granted_by_id",
        "topic_id",
    ]


def test_group_user_events_have_no_owner_for_members(world: World) -> None:
    name = unique("g")
    group = world.call("POST", "/admin/groups.json", json={"group": {"name": name}})
    group_id = group["basic_group"]["id"]
    since = world.mark()
    world.call("PUT", f"/groups/{group_id}/members.json", data={"usernames": world.bob})
    added = payload(world, since, "user_added_to_group")
    assert list(added) == GROUP_USER_KEYS
    since = world.mark()
    world.call("DELETE", f"/groups/{group_id}/members.json", data={"usernames": world.bob})
    assert payload(world, since, "user_removed_from_group") == added
