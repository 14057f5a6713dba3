"""The example partnership written straight into a forum sandbox's state: no API request.

Seeding through the API (``sandbox.example.seed_forum``) takes about a thousand requests,
a quarter of an hour at Discourse's 60 admin requests a minute. The demo and the tests
that only need the example's data write it here instead, in the same order and with the
functions the sandbox's routes call, so rows, ids, cooked posts, counters and times are
what the API makes (a test compares the two). What the service learns of the data it
still reads through the API.

Idempotent: users, groups, categories and the tag group are looked up before being made,
and a topic already there is left alone (each topic is written whole under the forum's
lock, so none is ever half made).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.example import CATEGORY_COLORS, SeedReport
from sandbox.example_conversations import PlannedTopic, plan_conversations
from sandbox.example_data import EXAMPLE, Partnership
from sandbox.forum.creation import (
    add_category,
    add_group_member,
    add_like,
    add_user,
    next_category_position,
    set_solution,
)
from sandbox.forum.posting import create_reply, create_topic, ensure_tags, slugify
from sandbox.forum.seed import new_category, new_group, new_tag_group
from sandbox.forum.state import SYSTEM_USER_ID, Forum, iso

# pydiscourse's create_group always sends grant_trust_level=1; the API-made groups have it.
GROUP_GRANT_TRUST_LEVEL = 1


def seed_forum_state(
    forum: Forum, data: Partnership = EXAMPLE, *, now: datetime | None = None
) -> SeedReport:
    """Fill the forum's state with the partnership, as ``seed_forum`` would, and save it."""
    report = SeedReport()
    plan = plan_conversations(data, now or forum.now())
    with forum.lock:
        # As the partnership's admin sets it up (README): lead partners' groups moderate
        # their constellations' categories.
        forum.site_settings["enable_category_group_moderation"] = True
        _seed_people(forum, data, report)
        _seed_categories(forum, data, report)
        _seed_practice_tags(forum, data)
        for topic in plan:
            _seed_topic(forum, topic, report)
    forum.save()
    return report


def _user(forum: Forum, username: str) -> dict[str, Any]:
    user = forum.user_by_username(username)
    if user is None:
        raise LookupError(f"the example names {username!r}, who is not on the forum")
    return user


def _seed_people(forum: Forum, data: Partnership, report: SeedReport) -> None:
    for person in data.people:
        if forum.user_by_username(person.username) is None:
            add_user(
                forum,
                person.username,
                name=person.name,
                email=person.email,
                active=True,
                approved=True,
            )
            report.users_created += 1
    existing = {group["name"].lower(): group for group in forum.table("groups").values()}
    for organisation in data.organisations:
        group = existing.get(organisation.group.lower())
        if group is None:
            group = new_group(organisation.group, full_name=organisation.name)
            group["grant_trust_level"] = GROUP_GRANT_TRUST_LEVEL
            forum.insert("groups", group)
            report.groups_created += 1
        for person in data.members_of(organisation.group):
            user = _user(forum, person.username)
            if user["id"] not in group["user_ids"]:
                add_group_member(forum, group, user)


def _seed_categories(forum: Forum, data: Partnership, report: SeedReport) -> None:
    categories = forum.table("categories").values()
    by_name = {category["name"].lower(): category for category in categories}

    def ensure(name: str, color: str, parent_id: int | None, description: str) -> int:
        found = by_name.get(name.lower())
        if found is None:
            found = new_category(
                name,
                slugify(name),
                position=next_category_position(forum),
                created_at=forum.now_iso(),
            )
            found.update(parent_category_id=parent_id, color=color, description=description)
            add_category(forum, found)
            by_name[name.lower()] = found
            report.categories_created += 1
        return int(found["id"])

    parent = ensure(data.parent_category, CATEGORY_COLORS[0], None, data.issue)
    for index, constellation in enumerate(data.constellations):
        color = CATEGORY_COLORS[(index + 1) % len(CATEGORY_COLORS)]
        category = ensure(constellation.forum_category, color, parent, constellation.goal)
        report.category_ids[constellation.name] = category


def _seed_practice_tags(forum: Forum, data: Partnership) -> None:
    wanted = [practice.tag for practice in data.practices]
    system = forum.table("users")[SYSTEM_USER_ID]  # staff: tags unknown yet are made
    for group in forum.table("tag_groups").values():
        if group["name"] == data.practice_tag_group:
            if set(group["tag_names"]) != set(wanted):
                group["tag_names"] = ensure_tags(forum, wanted, system)
            return
    group = new_tag_group(data.practice_tag_group)
    group["tag_names"] = ensure_tags(forum, wanted, system)
    forum.insert("tag_groups", group)


def _seed_topic(forum: Forum, planned: PlannedTopic, report: SeedReport) -> None:
    existing = next(
        (t for t in forum.table("topics").values() if t.get("external_id") == planned.external_id),
        None,
    )
    if existing is not None:
        report.topic_ids[planned.external_id] = existing["id"]
        return
    first = create_topic(
        forum,
        _user(forum, planned.author),
        {
            "title": planned.title,
            "raw": planned.raw,
            "category_id": report.category_ids[planned.constellation],
            "tags": list(planned.tags),
            "external_id": planned.external_id,
            "created_at": iso(planned.created_at),
        },
    )
    topic = forum.table("topics")[first["topic_id"]]
    posts = [first]
    for reply in planned.replies:
        fields = {
            "raw": reply.raw,
            "reply_to_post_number": reply.reply_to_post_number,
            "created_at": iso(reply.created_at),
        }
        posts.append(create_reply(forum, _user(forum, reply.author), topic, fields))
    report.topic_ids[planned.external_id] = topic["id"]
    report.topics_created += 1
    report.posts_created += len(posts)
    for index, liker in planned.likes:
        add_like(forum, posts[index], _user(forum, liker))
        report.likes += 1
    if planned.solution is not None:
        set_solution(forum, posts[planned.solution + 1], accepting=True)
        report.solutions += 1
