"""The example partnership and how to seed a forum with it (``seed_forum``).

The data lives in ``example_data`` and the conversation plan in ``example_conversations``;
this module writes both to a forum through ``ForumClient`` only, so it seeds the sandbox
and a real Discourse alike (with an all-users admin key: it acts as each member).

Idempotent where cheap: groups, users, categories and the tag group are looked up before
being made; topics carry external ids, so a second run skips them, and a topic a crashed
run left with fewer replies than planned gets the missing ones. Likes and accepted
solutions are applied only to posts the current run creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

from community.credits.rules import DEFAULT_RULES
from connectors.discourse import ForumClient
from connectors.discourse.records import Category
from core import clock
from core.errors import NotFound
from sandbox.example_conversations import PlannedTopic, plan_conversations
from sandbox.example_data import (
    EXAMPLE,
    Constellation,
    Organisation,
    Partnership,
    Person,
    Practice,
)

__all__ = [
    "EXAMPLE",
    "Constellation",
    "Organisation",
    "Partnership",
    "Person",
    "Practice",
    "SeedReport",
    "seed_forum",
    "write_credit_rules",
]

CATEGORY_COLORS = ("1B6CA8", "D9822B", "3F8F4B", "8E5EA2", "B8433F")


@dataclass
class SeedReport:
    groups_created: int = 0
    users_created: int = 0
    categories_created: int = 0
    topics_created: int = 0
    posts_created: int = 0
    likes: int = 0
    solutions: int = 0
    category_ids: dict[str, int] = field(default_factory=dict)  # constellation → category
    topic_ids: dict[str, int] = field(default_factory=dict)  # external id → topic

    @property
    def created_anything(self) -> bool:
        counts = (self.groups_created, self.users_created, self.categories_created)
        return any(counts) or bool(self.topics_created or self.posts_created)


def write_credit_rules(path: Path, data: Partnership = EXAMPLE) -> Path:
    """The built-in credit rules with the example's bot accounts excluded (its gauge bot
    is an ordinary forum account, as automations are): not credited, not counted."""
    rules = json.loads(resources.files("community.credits").joinpath(DEFAULT_RULES).read_text())
    rules["exclude_accounts"] = sorted({*rules["exclude_accounts"], *data.bot_usernames()})
    path.write_text(json.dumps(rules, indent=2) + "\n")
    return path


def seed_forum(
    client: ForumClient, data: Partnership = EXAMPLE, *, now: datetime | None = None
) -> SeedReport:
    """Fill the forum with the partnership: groups, people, categories, tags, conversations."""
    report = SeedReport()
    # As the partnership's admin sets it up (README): lead partners' groups moderate
    # their constellations' categories.
    client.site_settings(enable_category_group_moderation=True)
    _seed_people(client, data, report)
    _seed_categories(client, data, report)
    _seed_practice_tags(client, data)
    plan = plan_conversations(data, now or clock.now())
    for topic in plan:
        _seed_topic(client, topic, report)
    return report


def _seed_people(client: ForumClient, data: Partnership, report: SeedReport) -> None:
    for person in data.people:
        try:
            client.get_user(person.username)
        except NotFound:
            client.create_user(person.username, person.name, person.email)
            report.users_created += 1
    existing = {group.name.lower(): group for group in client.groups()}
    for organisation in data.organisations:
        group = existing.get(organisation.group.lower())
        if group is None:
            group = client.create_group(organisation.group, full_name=organisation.name)
            report.groups_created += 1
        members = [person.username for person in data.members_of(organisation.group)]
        client.add_group_members(group, members)


def _seed_categories(client: ForumClient, data: Partnership, report: SeedReport) -> None:
    by_name = {category.name.lower(): category for category in client.categories()}

    def ensure(name: str, color: str, parent: Category | None, description: str) -> Category:
        found = by_name.get(name.lower())
        if found is None:
            found = client.create_category(
                name,
                color=color,
                parent_id=parent.id if parent else None,
                description=description,
            )
            by_name[name.lower()] = found
            report.categories_created += 1
        return found

    parent = ensure(data.parent_category, CATEGORY_COLORS[0], None, data.issue)
    for index, constellation in enumerate(data.constellations):
        color = CATEGORY_COLORS[(index + 1) % len(CATEGORY_COLORS)]
        category = ensure(constellation.forum_category, color, parent, constellation.goal)
        report.category_ids[constellation.name] = category.id


def _seed_practice_tags(client: ForumClient, data: Partnership) -> None:
    wanted = [practice.tag for practice in data.practices]
    for group in client.tag_groups():
        if group.name == data.practice_tag_group:
            if set(group.tag_names) != set(wanted):
                client.update_tag_group(group.id, tag_names=wanted)
            return
    client.create_tag_group(data.practice_tag_group, wanted)


def _seed_topic(client: ForumClient, topic: PlannedTopic, report: SeedReport) -> None:
    existing = client.topic_by_external_id(topic.external_id)
    post_ids: dict[int, int] = {}  # plan index (0 = first post) → post id, this run only
    if existing is not None:
        topic_id = existing.id
        done = max(existing.posts_count - 1, 0)  # replies already there
    else:
        created = client.acting_as(topic.author).create_topic(
            topic.title,
            topic.raw,
            category_id=report.category_ids[topic.constellation],
            external_id=topic.external_id,
            tags=topic.tags,
            created_at=topic.created_at,
        )
        topic_id = created.topic_id
        # Not created here means another run made it a moment ago: leave it to that run.
        done = 0 if created.created else len(topic.replies)
        if created.created and created.post_id is not None:
            post_ids[0] = created.post_id
            report.topics_created += 1
            report.posts_created += 1
    report.topic_ids[topic.external_id] = topic_id
    for index, reply in enumerate(topic.replies[done:], start=done + 1):
        post = client.acting_as(reply.author).reply(
            topic_id,
            reply.raw,
            reply_to_post_number=reply.reply_to_post_number,
            created_at=reply.created_at,
        )
        post_ids[index] = post.id
        report.posts_created += 1
    for index, liker in topic.likes:
        if index in post_ids:
            client.acting_as(liker).like(post_ids[index])
            report.likes += 1
    if topic.solution is not None and topic.solution + 1 in post_ids:
        client.acting_as(topic.author).accept_solution(post_ids[topic.solution + 1])
        report.solutions += 1
