"""Category group moderation: the enable_category_group_moderation site setting and the
``moderating_group_ids`` a category takes and shows only while it is on (Discourse's
categories#category_params, CategorySerializer, WebHookCategorySerializer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydiscourse import DiscourseClient
from pydiscourse.exceptions import DiscourseClientError

from sandbox.forum.state import ForumEvent
from tests.conftest import SessionForum

SETTING = "enable_category_group_moderation"
KEY = "moderating_group_ids"


@pytest.fixture
def admin(forum: SessionForum) -> DiscourseClient:
    return forum.client()


@pytest.fixture
def moderation_on(admin: DiscourseClient) -> Iterator[None]:
    """The setting on for one test, then off again: the forum is shared by the session."""
    admin.site_settings(**{SETTING: "true"})
    try:
        yield
    finally:
        admin.site_settings(**{SETTING: "false"})


@pytest.fixture
def events(forum: SessionForum) -> Iterator[list[ForumEvent]]:
    seen: list[ForumEvent] = []
    forum.forum.listeners.append(seen.append)
    yield seen
    forum.forum.listeners.remove(seen.append)


def new_group(forum: SessionForum) -> int:
    group_id: int = forum.client().create_group(forum.name("g"))["basic_group"]["id"]
    return group_id


def new_category(forum: SessionForum, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = forum.client().create_category(forum.name("Cat "), "AB9364", **fields)
    return made["category"]


def put_form(admin: DiscourseClient, category_id: int, ids: list[Any]) -> dict[str, Any]:
    """The ids form-encoded as ``moderating_group_ids[]=3&moderating_group_ids[]=5``."""
    answer: dict[str, Any] = admin._put(
        f"/categories/{category_id}.json", **{f"{KEY}[]": [str(i) for i in ids]}
    )
    return answer


def shown(admin: DiscourseClient, category_id: int) -> dict[str, Any]:
    category: dict[str, Any] = admin.category(category_id)["category"]
    return category


def stored(forum: SessionForum, category_id: int) -> Any:
    return forum.forum.table("categories")[category_id].get(KEY)


def test_the_setting_is_listed_and_off_by_default(admin: DiscourseClient) -> None:
    listed = admin._get("/admin/site_settings.json")["site_settings"]
    assert {"setting": SETTING, "value": False} in listed


def test_off_the_ids_are_dropped_silently(forum: SessionForum, admin: DiscourseClient) -> None:
    group_id = new_group(forum)
    category = new_category(forum, **{f"{KEY}[]": [group_id]})
    assert KEY not in category
    answer = admin.update_category(category["id"], **{KEY: [group_id]})  # JSON
    assert answer["success"] == "OK" and KEY not in answer["category"]
    assert KEY not in put_form(admin, category["id"], [group_id])["category"]
    assert KEY not in shown(admin, category["id"])
    assert stored(forum, category["id"]) is None


def test_on_the_ids_are_stored_and_shown(
    forum: SessionForum, admin: DiscourseClient, moderation_on: None, events: list[ForumEvent]
) -> None:
    first, second, third = new_group(forum), new_group(forum), new_group(forum)
    category = new_category(forum)
    assert category[KEY] == []

    answer = put_form(admin, category["id"], [first, second])
    assert answer["category"][KEY] == [first, second]
    assert shown(admin, category["id"])[KEY] == [first, second]
    assert stored(forum, category["id"]) == [first, second]
    updated = [e for e in events if e.event_name == "category_updated"]
    assert updated[-1].payload[KEY] == [first, second]

    # JSON, as pydiscourse's update_category sends it: kept groups stay, new ones follow.
    answer = admin.update_category(category["id"], **{KEY: [third, second]})
    assert answer["category"][KEY] == [second, third]

    # Only CategorySerializer has the key: not the /categories.json entries
    # (CategoryDetailedSerializer) nor /site.json (SiteCategorySerializer).
    listed = admin._get("/categories.json")["category_list"]["categories"]
    assert all(KEY not in entry for entry in listed)
    assert all(KEY not in entry for entry in admin.get_site_info()["categories"])


def test_on_an_empty_list_clears(
    forum: SessionForum, admin: DiscourseClient, moderation_on: None
) -> None:
    group_id = new_group(forum)
    category = new_category(forum)
    put_form(admin, category["id"], [group_id])
    assert admin.update_category(category["id"], **{KEY: []})["category"][KEY] == []
    assert shown(admin, category["id"])[KEY] == []
    # A form has no empty array: ``moderating_group_ids[]=`` is one blank id, skipped.
    put_form(admin, category["id"], [group_id])
    assert put_form(admin, category["id"], [""])["category"][KEY] == []


def test_on_an_unknown_group_changes_nothing(
    forum: SessionForum, admin: DiscourseClient, moderation_on: None, events: list[ForumEvent]
) -> None:
    """The association's ids writer raises RecordNotFound: 404, the groups stay as they were."""
    group_id = new_group(forum)
    category = new_category(forum)
    put_form(admin, category["id"], [group_id])
    events.clear()
    with pytest.raises(DiscourseClientError) as caught:
        admin.update_category(category["id"], **{KEY: [group_id, 987654321]})
    assert caught.value.response.status_code == 404
    assert caught.value.response.json() == {"status": 404, "error": "Not Found"}
    assert shown(admin, category["id"])[KEY] == [group_id]
    assert events == []


def test_on_a_new_category_takes_them(
    forum: SessionForum, moderation_on: None, events: list[ForumEvent]
) -> None:
    group_id = new_group(forum)
    category = new_category(forum, **{f"{KEY}[]": [group_id]})
    assert category[KEY] == [group_id]
    created = [e for e in events if e.event_name == "category_created"]
    assert created[-1].payload[KEY] == [group_id]


def test_turning_the_setting_off_hides_but_keeps_them(
    forum: SessionForum, admin: DiscourseClient, moderation_on: None
) -> None:
    group_id = new_group(forum)
    category = new_category(forum)
    put_form(admin, category["id"], [group_id])
    admin.site_settings(**{SETTING: "false"})
    assert KEY not in shown(admin, category["id"])
    admin.site_settings(**{SETTING: "true"})
    assert shown(admin, category["id"])[KEY] == [group_id]


def test_a_deleted_group_moderates_no_more(
    forum: SessionForum, admin: DiscourseClient, moderation_on: None
) -> None:
    kept, gone = new_group(forum), new_group(forum)
    category = new_category(forum)
    put_form(admin, category["id"], [kept, gone])
    admin.delete_group(gone)
    assert shown(admin, category["id"])[KEY] == [kept]
