"""The forum actions planned from facts and performed against the forum sandbox, each
checked on the forum; performed again with the same key (a retry) they do nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.config import Settings
from core.errors import ConstellateError
from core.migrate import upgrade
from core.store import Store
from tests.conftest import SessionForum
from tests.webhooks.automations.test_facts import make_settings
from webhooks.automations.actions import perform, plan
from webhooks.automations.templates import TemplateError
from webhooks.automations.vocabulary import ActionEnv, ActionError, ActionSpec, Facts, Outcome

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@dataclass
class Rig:
    """A topic opened by ``author`` in ``category``, a group with ``member`` in it, an
    ``outsider``, our admin client (its requests' methods recorded) and a store."""

    settings: Settings
    admin: ForumClient
    methods: list[str]
    author: str
    member: str
    outsider: str
    group: str
    category: str
    category_id: int
    topic_id: int
    topic_title: str
    store: Store
    forum: SessionForum

    def facts(self, **more: Any) -> Facts:
        return Facts(
            {
                "event_kind": "forum.post_created",
                "subject": f"topic:{self.topic_id}",
                "topic_id": self.topic_id,
                "topic_title": self.topic_title,
                "author": self.author,
                "author_name": "Ana *the* [Warden]",
                "lead_group": self.group,
                "constellation": "Flood Wardens Network",
                "last_editors": [self.member, self.outsider],
                "rule": "test-rule",
                **more,
            }
        )

    def act(
        self, kind: str, options: dict[str, Any], *, key: str, retry: bool = False, **facts: Any
    ) -> Outcome:
        planned = plan(ActionSpec(kind, options), self.facts(**facts), self.settings)
        with self.store.session() as session:
            return perform(planned, self.env(session, key, retry))

    def env(self, session: Session, key: str, retry: bool = False) -> ActionEnv:
        def no_wiki() -> WikiClient:
            raise AssertionError("a forum action used the wiki")

        return ActionEnv(
            session=session,
            settings=self.settings,
            forum=lambda: self.admin,
            wiki=no_wiki,
            rule="test-rule",
            event_id="forum:post_created:post:1",
            key=key,
            now=NOW,
            retry=retry,
        )

    def writes(self) -> int:
        return sum(method != "GET" for method in self.methods)


@pytest.fixture
def rig(forum: SessionForum, sqlite_url: str) -> Iterator[Rig]:
    upgrade(sqlite_url)
    store = Store(sqlite_url)
    settings = make_settings(forum)
    admin = ForumClient(settings["forum"])
    methods: list[str] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        methods.append(str(response.request.method))

    admin.session.hooks["response"].append(record)
    author, member, outsider = forum.name("ana"), forum.name("mia"), forum.name("oli")
    for name in (author, member, outsider):
        admin.create_user(name, name.title(), f"{name}@example.org")
    group = admin.create_group(forum.name("leads"))
    admin.add_group_members(group, [member])
    category = admin.create_category(forum.name("Wardens "))
    title = f"Night shifts for the flood wardens ({forum.name('ref')})"
    created = admin.acting_as(author).create_topic(
        title,
        "Who can take a night shift on the river wall next week?",
        category_id=category.id,
        external_id=forum.name("actions-"),
    )
    yield Rig(
        settings,
        admin,
        methods,
        author,
        member,
        outsider,
        group.name,
        category.name,
        category.id,
        created.topic_id,
        title,
        store,
        forum,
    )
    store.dispose()


def test_tag_and_untag_write_the_topic_tags_once(rig: Rig) -> None:
    tools, kit = rig.forum.name("tools"), rig.forum.name("kit")
    outcome = rig.act("tag", {"tags": [tools, kit]}, key="tag-1")
    assert rig.admin.get_topic(rig.topic_id).tags == (tools, kit)
    assert outcome.objects == (f"topic:{rig.topic_id}",)

    writes = rig.writes()
    again = rig.act("tag", {"tags": [tools]}, key="tag-1")
    assert rig.writes() == writes and again.objects == ()
    assert rig.act("tag", {"tags": [tools]}, key="tag-1", retry=True).objects == (
        f"topic:{rig.topic_id}",
    )

    rig.act("untag", {"tags": [kit]}, key="untag-1")
    assert rig.admin.get_topic(rig.topic_id).tags == (tools,)
    writes = rig.writes()
    rig.act("untag", {"tags": [kit]}, key="untag-1")
    assert rig.writes() == writes


def test_a_tag_on_another_topic_and_the_plan_description(rig: Rig) -> None:
    other = rig.admin.create_topic(
        f"Another topic about sandbags ({rig.forum.name('ref')})",
        "Where do we keep the spare sandbags this winter?",
        category_id=rig.category_id,
        external_id=rig.forum.name("other-"),
    )
    tag = rig.forum.name("bags")
    planned = plan(
        ActionSpec("tag", {"tags": [tag], "topic": "{{other}}"}),
        rig.facts(other=other.topic_id),
        rig.settings,
    )
    assert planned.description == f"tag topic {other.topic_id}: +{tag}"
    with rig.store.session() as session:
        perform(planned, rig.env(session, "tag-other"))
    assert rig.admin.get_topic(other.topic_id).tags == (tag,)
    assert rig.admin.get_topic(rig.topic_id).tags == ()


def test_a_reply_is_posted_once_with_people_s_words_escaped(rig: Rig) -> None:
    spec = ActionSpec("reply", {"text": "Welcome, {{author_name}}! Glad you asked."})
    planned = plan(spec, rig.facts(), rig.settings)
    assert planned.description.startswith(f"reply in topic {rig.topic_id} “Night shifts")
    assert planned.description.endswith(": Welcome, Ana \\*the\\* \\[Warden\\]! Glad you asked.")
    with rig.store.session() as session:
        outcome = perform(planned, rig.env(session, "reply-1"))
    posts = rig.admin.get_topic(rig.topic_id).posts
    assert len(posts) == 2
    assert posts[1].raw == "Welcome, Ana \\*the\\* \\[Warden\\]! Glad you asked."
    assert posts[1].username == rig.admin.username
    assert outcome.objects == (f"post:{posts[1].id}", f"topic:{rig.topic_id}")

    with rig.store.session() as session:
        retried = perform(planned, rig.env(session, "reply-1", retry=True))
    assert len(rig.admin.get_topic(rig.topic_id).posts) == 2
    assert retried.objects == outcome.objects


def test_a_reply_as_another_user(rig: Rig) -> None:
    options = {"text": "I can take the Tuesday night shift.", "as": "{{helper}}"}
    outcome = rig.act("reply", options, key="reply-as", helper=rig.member)
    assert outcome.objects[0].startswith("post:")
    last = rig.admin.get_topic(rig.topic_id).posts[-1]
    assert (last.username, last.raw) == (rig.member, "I can take the Tuesday night shift.")


def test_create_topic_in_a_category_named_by_name_once(rig: Rig) -> None:
    tag = rig.forum.name("beat")
    options = {
        "title": "{{constellation}}: beat {{beat_number}} starts ({{ref}})",
        "text": "What are you working on this beat, {{lead_group}}?",
        "category": rig.category.upper(),
        "tags": [tag],
    }
    ref = rig.forum.name("ref")
    outcome = rig.act("create_topic", options, key="topic-1", beat_number=3, ref=ref)
    topic_id = int(outcome.objects[0].removeprefix("topic:"))
    topic = rig.admin.get_topic(topic_id)
    assert topic.title == f"Flood Wardens Network: beat 3 starts ({ref})"
    assert (topic.category_id, topic.tags) == (rig.category_id, (tag,))
    assert topic.posts[0].raw == f"What are you working on this beat, {rig.group}?"
    assert outcome.objects == (f"topic:{topic_id}", f"post:{topic.posts[0].id}")

    again = rig.act("create_topic", options, key="topic-1", retry=True, beat_number=3, ref=ref)
    assert again.objects == (f"topic:{topic_id}",)
    assert "already" in again.description
    by_id = rig.act(
        "create_topic",
        {**options, "category": "{{category_id}}"},
        key="topic-2",
        beat_number=4,
        ref=ref,
        category_id=rig.category_id,
    )
    second = int(by_id.objects[0].removeprefix("topic:"))
    assert second != topic_id and rig.admin.get_topic(second).category_id == rig.category_id


def test_an_unknown_category_is_an_action_error(rig: Rig) -> None:
    options = {"title": "A topic that never opens", "text": "Nowhere to go at all."}
    with pytest.raises(ActionError, match="no category with this name"):
        rig.act("create_topic", {**options, "category": "No Such Category"}, key="c1")
    with pytest.raises(ActionError, match="no category with this id"):
        rig.act("create_topic", {**options, "category": 987654}, key="c2")


def test_a_message_reaches_users_and_a_group_once(rig: Rig) -> None:
    options = {
        "to": ["{{author}}", "{{lead_group}}"],
        "title": f"No reply yet: {rig.topic_title}",
        "text": "Could the leads of {{constellation}} answer it?",
    }
    outcome = rig.act("message", options, key="message-1")
    (marked,) = outcome.objects
    topic_id = int(marked.removeprefix("topic:"))
    with rig.forum.forum.lock:
        stored = rig.forum.forum.table("topics")[topic_id]
        allowed = (list(stored["allowed_usernames"]), list(stored["allowed_groups"]))
    assert allowed == ([rig.admin.username, rig.author], [rig.group])
    assert rig.admin.acting_as(rig.member).get_topic(topic_id).title == options["title"]
    with pytest.raises(ConstellateError):
        rig.admin.acting_as(rig.outsider).get_topic(topic_id)

    again = rig.act("message", options, key="message-1", retry=True)
    assert again.objects == outcome.objects and "already" in again.description


def test_a_list_placeholder_adds_each_recipient(rig: Rig) -> None:
    planned = plan(
        ActionSpec("message", {"to": ["{{last_editors}}"], "title": "Charter", "text": "Hi"}),
        rig.facts(),
        rig.settings,
    )
    assert planned.params["to"] == [rig.member, rig.outsider]
    assert planned.description.startswith(f"message “Charter” to {rig.member}, {rig.outsider}")
    with pytest.raises(ActionError, match="recipient list is empty"):
        plan(
            ActionSpec("message", {"to": ["{{last_editors}}"], "title": "T", "text": "x"}),
            rig.facts(last_editors=[]),
            rig.settings,
        )
    with pytest.raises(ActionError, match="the forum refused it"):
        rig.act(
            "message",
            {"to": [rig.forum.name("ghost")], "title": "To nobody at all", "text": "Hello?"},
            key="ghost",
        )


def test_a_badge_is_made_when_missing_and_granted_once(rig: Rig) -> None:
    name = f"Night warden {rig.forum.name('b')}"
    options = {"badge": name, "to": "{{author}}", "description": "Took a night shift"}
    outcome = rig.act("badge", options, key="badge-1")
    badge = next(b for b in rig.admin.badges() if b.name == name)
    assert badge.description == "Took a night shift"
    grants = [g for g in rig.admin.user_badges(rig.author) if g.badge_id == badge.id]
    assert len(grants) == 1
    assert outcome.objects == (f"user:{rig.author}",)

    again = rig.act("badge", options, key="badge-2")
    assert again.objects == () and "already" in again.description
    assert len([b for b in rig.admin.badges() if b.name == name]) == 1
    assert len([g for g in rig.admin.user_badges(rig.author) if g.badge_id == badge.id]) == 1
    with pytest.raises(ActionError, match="refused"):
        rig.act("badge", {**options, "to": rig.forum.name("ghost")}, key="badge-3")


def test_planning_errors_say_what_is_wrong(rig: Rig) -> None:
    with pytest.raises(TemplateError, match=r"reply: text: missing placeholder\(s\): nobody"):
        plan(ActionSpec("reply", {"text": "Hi {{nobody}}"}), rig.facts(), rig.settings)
    no_topic = Facts({"event_kind": "wiki.edit", "author": "Ana"})
    with pytest.raises(ActionError, match="this event has no topic"):
        plan(ActionSpec("reply", {"text": "Hi"}), no_topic, rig.settings)
    with pytest.raises(ActionError, match="not a forum tag"):
        plan(ActionSpec("tag", {"tags": ["Two Words"]}), rig.facts(), rig.settings)
    with pytest.raises(ActionError, match="not a forum name"):
        plan(ActionSpec("reply", {"text": "Hi", "as": "a b"}), rig.facts(), rig.settings)
    with pytest.raises(ActionError, match="not a topic id"):
        plan(ActionSpec("reply", {"text": "Hi", "topic": "abc"}), rig.facts(), rig.settings)
    with pytest.raises(ActionError, match="the option 'title' is missing"):
        plan(ActionSpec("create_topic", {"text": "Hi"}), rig.facts(), rig.settings)
    with pytest.raises(ActionError, match="unknown action"):
        plan(ActionSpec("shout", {}), rig.facts(), rig.settings)
