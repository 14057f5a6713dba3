"""The forum section on a constellation page, against the real wiki and the forum sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.bot_section import BEGIN, END, MOVED_NOTE
from community.constellations.charter import Charter, parse_charter
from community.constellations.models import PageTopicLink
from community.constellations.wiki_section import update_wiki_section
from community.credits.models import Person
from community.credits.people import ensure_account
from community.health.summary import NOT_YET
from connectors.discourse import ForumClient
from connectors.discourse.records import Topic
from connectors.mediawiki import WikiClient
from core.migrate import upgrade
from core.store import Store

BODY = "A body long enough for Discourse's twenty character minimum."


def charter_text(lead: str = "Harbour Food Bank", partners: str = "") -> str:
    partners = partners or f"{lead}, North Pantry"
    return (
        "{{Constellation\n"
        "| goal = Share one open data standard\n"
        f"| lead_partner = {lead}\n"
        f"| partners = {partners}\n"
        "| status = active\n"
        "| beat = monthly\n"
        "| forum_category = food-data\n"
        "}}\n"
    )


def make_store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    return Store(url)


def forum_client(forum: Any) -> ForumClient:
    return ForumClient(
        {
            "url": forum.url,
            "api_username": forum.api_username,
            "api_key": forum.api_key,
            "timeout": 10,
        }
    )


def settings(wiki: Any, forum: Any, *, recent_topics: int = 3) -> dict[str, Any]:
    return {
        "wiki": wiki.config(),
        "forum": {"url": forum.url, "api_username": forum.api_username, "api_key": forum.api_key},
        "constellations": {
            "parent_category": "Constellations",
            "read_only_on_sunset": False,
            "recent_topics": recent_topics,
            "participant_days": 90,
        },
        "credits": {"rules_file": ""},
    }


def count_writes(session: requests.Session) -> Counter[str]:
    """Counts the requests other than GET made through ``session`` from now on."""
    counts: Counter[str] = Counter()

    def observe(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.request.method != "GET":
            counts["writes"] += 1

    session.hooks["response"].append(observe)
    return counts


def record(session: Session, topic: Topic) -> None:
    """What the activity handlers store for each post of ``topic``."""
    for post in topic.posts:
        assert post.created_at is not None
        session.add(
            ForumPostActivity(
                post_id=post.id,
                topic_id=topic.id,
                category_id=topic.category_id,
                username=post.username,
                post_number=post.post_number,
                reply_to_post_number=post.reply_to_post_number,
                created_at=post.created_at,
                updated_at=post.created_at,
                deleted=False,
            )
        )
    session.flush()


@dataclass
class Linked:
    title: str
    page_id: int
    charter: Charter
    link: PageTopicLink


def linked_page(bot: WikiClient, title: str, text: str, category_id: int | None) -> Linked:
    made = bot.edit(title, text, summary="a constellation", mode="create")
    charter = parse_charter(title, bot.read_pages([title])[title].text)
    assert charter is not None
    link = PageTopicLink(
        wiki_page_id=made.pageid,
        wiki_title=title,
        external_id=f"c-{made.pageid}",
        forum_category_id=category_id,
        forum_topic_id=None,
    )
    return Linked(title, made.pageid, charter, link)


# -- the scene: one category with people from one partner organisation -------------------


@dataclass
class Scene:
    category_id: int
    organisation: str
    member: str  # in the organisation's group
    loner: str  # in no partner group
    topics: list[Topic]  # oldest first


@pytest.fixture(scope="module")
def scene(forum: Any) -> Scene:
    client = forum_client(forum)
    category = client.create_category(forum.name("Constellation "))
    organisation = f"Harbour Food Bank {forum.name('')}"
    group = client.create_group(forum.name("g"), full_name=organisation)
    member, loner = forum.name("m"), forum.name("l")
    for username in (member, loner):
        client.create_user(username, username.title(), f"{username}@example.org")
    client.add_group_members(group, [member])
    topics = []
    for number in range(4):
        made = client.acting_as(member).create_topic(
            f"Discussion number {number} about [[data]] {forum.name('')}",
            BODY,
            category_id=category.id,
            external_id=forum.name("x"),
        )
        if number == 1:
            client.acting_as(loner).reply(made.topic_id, BODY)
        topics.append(client.get_topic(made.topic_id))
    return Scene(category.id, organisation, member, loner, topics)


@pytest.fixture
def store(tmp_path: Path, scene: Scene) -> Iterator[Store]:
    """A fresh store that has seen the scene's posts."""
    store = make_store(tmp_path)
    with store.session() as session:
        for topic in scene.topics:
            record(session, topic)
    yield store
    store.dispose()


def run(
    store: Store, wiki: Any, forum: Any, linked: Linked, bot: WikiClient, **options: Any
) -> str:
    with store.session() as session:
        return update_wiki_section(
            session,
            bot,
            forum_client(forum),
            settings(wiki, forum),
            charter=linked.charter,
            link=linked.link,
            **options,
        )


def inside_of(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)]


# -- tests --------------------------------------------------------------------------------


def test_the_section_is_appended_and_the_page_text_kept_byte_for_byte(
    wiki: Any, forum: Any, scene: Scene, store: Store
) -> None:
    bot = wiki.bot()
    prose = "Some ''prose'' with [[a link]] and a list:\n* one\n* two\n\n== Notes ==\nMore."
    linked = linked_page(
        bot, wiki.title("Constellation"), charter_text() + prose, scene.category_id
    )
    before = bot.read_pages([linked.title])[linked.title].text

    assert run(store, wiki, forum, linked, bot) == "written"

    after = bot.read_pages([linked.title])[linked.title].text
    assert after.startswith(before)
    assert after.endswith(END)
    inside = inside_of(after)
    newest = scene.topics[::-1][:3]  # recent_topics = 3, newest first
    shown = [line for line in inside.splitlines() if "/t/" in line]
    assert [f"/{t.id}" in line for t, line in zip(newest, shown, strict=True)] == [True] * 3
    assert f"/t/{scene.topics[0].slug}/{scene.topics[0].id}" not in inside
    assert "&#91;&#91;data&#93;&#93;" in inside  # titles cannot make links
    assert "maintained by Constellate" in inside
    assert "=== Health ===\n" + NOT_YET in inside  # no health computed in this store


def test_no_change_makes_no_wiki_write_and_text_around_the_markers_stays(
    wiki: Any, forum: Any, scene: Scene, store: Store
) -> None:
    bot, human = wiki.bot(), wiki.human()
    linked = linked_page(bot, wiki.title("Constellation"), charter_text(), scene.category_id)
    assert run(store, wiki, forum, linked, bot) == "written"
    # A person writes below the section; a later update must keep it exactly.
    text = bot.read_pages([linked.title])[linked.title].text
    human.edit(linked.title, text + "\n\nWritten below the section.", summary="below")
    # The person is now one of the page's contributors: the credits list them, once.
    assert run(store, wiki, forum, linked, bot) == "written"
    assert "=== Credits ===" in inside_of(bot.read_pages([linked.title])[linked.title].text)
    writes = count_writes(bot.session)

    assert run(store, wiki, forum, linked, bot) == "unchanged"
    assert writes["writes"] == 0

    # New forum activity changes the inside only.
    with store.session() as session:
        session.add(
            ForumPostActivity(
                post_id=10_000_000 + linked.page_id,
                topic_id=scene.topics[0].id,
                category_id=scene.category_id,
                username="someone_new",
                post_number=99,
                reply_to_post_number=None,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
                deleted=False,
            )
        )
    before = bot.read_pages([linked.title])[linked.title].text
    assert run(store, wiki, forum, linked, bot) == "written"
    after = bot.read_pages([linked.title])[linked.title].text
    assert writes["writes"] == 1
    assert after[: after.index(BEGIN)] == before[: before.index(BEGIN)]
    assert after[after.index(END) :] == before[before.index(END) :]
    assert after.endswith("Written below the section.")
    assert "someone&#95;new" in inside_of(after)


def test_participants_show_their_partner_organisation(
    wiki: Any, forum: Any, scene: Scene, store: Store
) -> None:
    def posted(post_id: int, username: str, number: int, ago: timedelta) -> ForumPostActivity:
        at = datetime.now(UTC) - ago
        return ForumPostActivity(
            post_id=post_id,
            topic_id=scene.topics[0].id,
            category_id=scene.category_id,
            username=username,
            post_number=number,
            reply_to_post_number=None,
            created_at=at,
            updated_at=at,
            deleted=False,
        )

    with store.session() as session:  # someone who posted long ago is no longer active
        session.add(posted(20_000_000, "long_gone", 98, timedelta(days=200)))
        # A bot that posts here (a gauge's readings) is no participant, as in the metrics.
        session.add(posted(20_000_001, "river_gauge", 99, timedelta(hours=1)))
        ensure_account(session, "forum", "river_gauge").is_bot = True
        # The organisation the store holds (from the forum's groups, or a moderator);
        # the section reads it there, never asking the forum per participant.
        member = ensure_account(session, "forum", scene.member)
        session.get_one(Person, member.person_id).organisation = scene.organisation
    bot = wiki.bot()
    linked = linked_page(bot, wiki.title("Constellation"), charter_text(), scene.category_id)
    assert run(store, wiki, forum, linked, bot) == "written"
    inside = inside_of(bot.read_pages([linked.title])[linked.title].text)
    participants = inside[inside.index("=== Active participants ===") :]
    participants = participants[: participants.index("=== Credits ===")]
    people = [line for line in participants.splitlines() if line.startswith("* ")]
    assert people == sorted(
        [
            f"* {scene.member} ({scene.organisation})",
            f"* {scene.loner} (no partner organisation)",
        ],
        key=str.lower,
    )


def test_a_person_s_edit_inside_the_markers_is_moved_above_and_kept(
    wiki: Any, forum: Any, scene: Scene, store: Store
) -> None:
    bot, human = wiki.bot(), wiki.human()
    linked = linked_page(bot, wiki.title("Constellation"), charter_text(), scene.category_id)
    assert run(store, wiki, forum, linked, bot) == "written"
    text = bot.read_pages([linked.title])[linked.title].text
    edited = text.replace(END, "A person's own words inside the section.\n" + END)
    human.edit(linked.title, edited, summary="inside")

    assert run(store, wiki, forum, linked, bot) == "conflict"

    after = bot.read_pages([linked.title])[linked.title].text
    above = after[: after.index(BEGIN)]
    assert MOVED_NOTE in above
    assert "A person's own words inside the section." in above
    assert "A person's own words" not in inside_of(after)
    assert after.count(BEGIN) == after.count(END) == 1
    # The moved words are now outside: the next run leaves the page alone.
    assert run(store, wiki, forum, linked, bot) == "unchanged"


def test_a_wiki_edit_conflict_is_read_again_and_the_section_reapplied(
    wiki: Any, forum: Any, scene: Scene, store: Store
) -> None:
    bot, human = wiki.bot(), wiki.human()
    linked = linked_page(bot, wiki.title("Constellation"), charter_text(), scene.category_id)
    reads: list[int] = []
    read_pages = bot.read_pages

    def read_then_compete(titles: Any) -> Any:
        pages = read_pages(titles)
        reads.append(1)
        if len(reads) == 1:  # between our read and our write, a person edits the end
            page = pages[linked.title]
            human.edit(linked.title, page.text + "\nA competing line.", summary="compete")
        return pages

    bot.read_pages = read_then_compete
    assert run(store, wiki, forum, linked, bot) == "written"

    assert len(reads) == 2
    after = read_pages([linked.title])[linked.title].text
    assert "A competing line." in after[: after.index(BEGIN)]
    assert after.count(BEGIN) == 1


def test_dry_run_reports_without_writing(wiki: Any, forum: Any, scene: Scene, store: Store) -> None:
    bot = wiki.bot()
    linked = linked_page(bot, wiki.title("Constellation"), charter_text(), scene.category_id)
    writes = count_writes(bot.session)
    assert run(store, wiki, forum, linked, bot, dry_run=True) == "written"
    assert writes["writes"] == 0
    assert BEGIN not in bot.read_pages([linked.title])[linked.title].text
