"""Practice candidates: forum topics that look like a practice, scored by the configured
rules against the real forum sandbox, suggested once, never again after dismissal."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community import activity
from community.credits.models import Person
from community.credits.people import ensure_account
from community.handling import HandlerContext
from community.practices import candidates
from community.practices.cli import practices as practices_command
from community.practices.models import Practice, PracticeSuggestion, PracticeTagName
from connectors.discourse import ForumClient
from core.config import CONFIG_PATH_VAR, Settings
from core.events import Event
from core.store import Store
from tests.community.constellations.sync_support import SyncRig
from tests.community.forum_deliveries import deliveries, events_about
from tests.conftest import SessionForum, SessionWiki

BODY = "Here is how we did it, step by step, with the checklist we used at the start."


@dataclass(frozen=True)
class Scene:
    """A category and people from two partner organisations (forum groups)."""

    category_id: int
    org_a: str
    org_b: str
    author: str  # in org A
    colleague: str  # in org A
    partner: str  # in org B


@pytest.fixture(scope="module")
def scene(forum: SessionForum) -> Scene:
    return make_scene(forum)


@pytest.fixture(autouse=True)
def affiliations(request: pytest.FixtureRequest, scene: Scene) -> None:
    """The store knows the scene's people and their organisations, as the people refresh
    learns them from the forum's groups: practices read organisations from the store."""
    for name in ("rig", "sqlite_rig"):
        if name in request.fixturenames:
            affiliate(request.getfixturevalue(name).store, scene)


def make_scene(forum: SessionForum) -> Scene:
    client = admin(forum)
    category = client.create_category(forum.name("Practices "))
    org_a, org_b = f"Riverside Trust {forum.name('')}", f"Hillside Co-op {forum.name('')}"
    group_a = client.create_group(forum.name("ga"), full_name=org_a)
    group_b = client.create_group(forum.name("gb"), full_name=org_b)
    author, colleague, partner = forum.name("au"), forum.name("co"), forum.name("pa")
    for username in (author, colleague, partner):
        client.create_user(username, username.title(), f"{username}@example.org")
    client.add_group_members(group_a, [author, colleague])
    client.add_group_members(group_b, [partner])
    return Scene(category.id, org_a, org_b, author, colleague, partner)


def affiliate(store: Store, scene: Scene) -> None:
    with store.session() as session:
        for name, organisation in (
            (scene.author, scene.org_a),
            (scene.colleague, scene.org_a),
            (scene.partner, scene.org_b),
        ):
            account = ensure_account(session, "forum", name)
            session.get_one(Person, account.person_id).organisation = organisation


def admin(forum: SessionForum) -> ForumClient:
    return ForumClient(
        {"url": forum.url, "api_username": forum.api_username, "api_key": forum.api_key}
    )


def discussion(
    forum: SessionForum,
    scene: Scene,
    title: str,
    *,
    body: str = BODY,
    author: str | None = None,
    replies: tuple[str, ...] = (),
    likes: tuple[str, ...] = (),
    suffix: bool = True,
) -> int:
    """A topic by ``author`` with a reply from each of ``replies`` and a like on its
    first post from each of ``likes``; returns its id. Titles are unique on the forum,
    so a unique word is appended unless ``suffix`` is False."""
    client = admin(forum)
    if suffix:
        title = f"{title} {forum.name('')}"
    poster = client.acting_as(author or scene.author)
    made = poster.create_topic(
        title, body, category_id=scene.category_id, external_id=forum.name("x")
    )
    for number, username in enumerate(replies):
        client.acting_as(username).reply(made.topic_id, f"{BODY} Reply number {number}.")
    first = client.get_topic(made.topic_id).posts[0]
    for username in likes:
        client.acting_as(username).like(first.id)
    return made.topic_id


def active_discussion(forum: SessionForum, scene: Scene, title: str, suffix: bool = True) -> int:
    """A topic that satisfies every default rule (keywords, replies, likes, organisations)."""
    return discussion(
        forum,
        scene,
        title,
        replies=(scene.colleague, scene.partner),
        likes=(scene.partner,),
        suffix=suffix,
    )


def with_rules(settings: Settings, **rules: Any) -> Settings:
    changed = copy.deepcopy(settings)
    changed["practices"]["candidates"].update(rules)
    return changed


def suggestions(rig: SyncRig) -> list[PracticeSuggestion]:
    with rig.store.session() as session:
        return list(session.scalars(select(PracticeSuggestion).order_by(PracticeSuggestion.id)))


# -- tests --------------------------------------------------------------------------------


def test_a_matching_topic_is_suggested_once_and_never_again_once_dismissed(
    rig: SyncRig, scene: Scene
) -> None:
    topic_id = active_discussion(rig.session_forum, scene, "How we run a repair cafe checklist")
    quiet = discussion(rig.session_forum, scene, "Where is the nearest bus stop please")

    with rig.store.session() as session:
        made = candidates.suggest_candidates(session, rig.forum, rig.settings, [topic_id, quiet])
        assert [s.key for s in made] == [f"topic:{topic_id}"]

    [stored] = suggestions(rig)
    assert (stored.kind, stored.state, stored.topic_id) == ("candidate", "open", topic_id)
    assert stored.title.startswith("How we run a repair cafe checklist ")
    assert stored.score == 4.0
    reasons = " | ".join(stored.reasons)
    assert "keywords: 'how we', 'step by step', 'checklist'" in reasons
    assert "2 replies from others (at least 2)" in reasons
    assert "1 likes (at least 1)" in reasons
    assert f"2 organisations: {scene.org_b}, {scene.org_a} (at least 2)" in reasons

    with rig.store.session() as session:  # suggested once
        assert candidates.suggest_candidates(session, rig.forum, rig.settings, [topic_id]) == []
        dismissed = candidates.dismiss(session, stored.id, moderator="mod_anna")
        assert (dismissed.state, dismissed.decided_by) == ("dismissed", "mod_anna")
        with pytest.raises(candidates.SuggestionError, match="already dismissed"):
            candidates.dismiss(session, stored.id, moderator="mod_anna")
        with pytest.raises(candidates.SuggestionError, match="no such suggestion"):
            candidates.dismiss(session, 999_999, moderator=None)
    # More activity does not bring a dismissed topic back.
    admin(rig.session_forum).acting_as(scene.partner).reply(topic_id, f"{BODY} One more.")
    with rig.store.session() as session:
        assert candidates.suggest_candidates(session, rig.forum, rig.settings, [topic_id]) == []
        assert candidates.open_suggestions(session) == []
    assert [(s.key, s.state) for s in suggestions(rig)] == [(f"topic:{topic_id}", "dismissed")]


def test_each_rule_adds_to_the_score_and_min_score_decides(rig: SyncRig, scene: Scene) -> None:
    # Keywords only: one point.
    topic_id = discussion(
        rig.session_forum, scene, "Lessons learned from our food box round", likes=()
    )
    strict = with_rules(rig.settings, min_score=2)
    lenient = with_rules(rig.settings, min_score=1)
    with rig.store.session() as session:
        assert candidates.suggest_candidates(session, rig.forum, strict, [topic_id]) == []
        [made] = candidates.suggest_candidates(session, rig.forum, lenient, [topic_id])
        assert made.score == 1.0
        assert made.reasons == [
            "keywords: 'how we', 'step by step', 'checklist', 'lessons learned'"
        ]
    # Replies from the author and from our own account do not count as replies from others.
    own = discussion(
        rig.session_forum,
        scene,
        "Our notes for the spring clean-up day",
        body="Just a note about the day.",
        replies=(scene.author, rig.session_forum.api_username),
    )
    with rig.store.session() as session:
        judged = candidates.assess_topic(
            session, rig.settings, rig.forum.get_topic(own), lambda _name: ()
        )
    assert (judged.score, judged.reasons, judged.excluded) == (0.0, (), None)


def test_private_messages_our_own_topics_and_practice_tagged_topics_are_never_candidates(
    rig: SyncRig, scene: Scene
) -> None:
    anything = with_rules(rig.settings, min_score=0)  # only the exclusions stand in the way
    message = rig.session_forum.client(scene.author).create_post(
        BODY,
        title=f"A private checklist {rig.session_forum.name('')}",
        archetype="private_message",
        target_recipients=scene.partner,
    )
    ours = discussion(
        rig.session_forum,
        scene,
        "How we announce the monthly checklist",
        author=rig.session_forum.api_username,
    )
    tag = rig.session_forum.name("pt")
    tagged = discussion(rig.session_forum, scene, "How we tag things step by step")
    admin(rig.session_forum).update_topic(tagged, tags=[tag])
    with rig.store.session() as session:
        session.add(PracticeTagName(name=tag, page_id=4242, current=True))
        session.flush()
        topic_ids = [int(message["topic_id"]), ours, tagged]
        assert candidates.suggest_candidates(session, rig.forum, anything, topic_ids) == []
        judged = {
            topic_id: candidates.assess_topic(
                session, anything, rig.forum.get_topic(topic_id), lambda _name: ()
            ).excluded
            for topic_id in topic_ids
        }
    assert judged == {
        int(message["topic_id"]): "a private message",
        ours: f"started by {rig.session_forum.api_username}, our own account",
        tagged: f"already tagged with practice tag {tag!r}",
    }
    assert suggestions(rig) == []


def test_near_duplicates_of_a_practice_are_skipped_and_similar_ones_named(
    rig: SyncRig, scene: Scene
) -> None:
    unique = rig.session_forum.name("")
    with rig.store.session() as session:
        session.add(
            Practice(
                page_id=900_001,
                title=f"Seed swap evening {unique}",
                tag=rig.session_forum.name("ss"),
                summary="Neighbours bring seeds in paper envelopes and swap them.",
                originating_organisation=scene.org_a,
                revid=1,
            )
        )
    duplicate = active_discussion(
        rig.session_forum, scene, f"Seed-swap evenings {unique}!", suffix=False
    )
    related = active_discussion(
        rig.session_forum,
        scene,
        f"How we ran a seed swap evening for the village {unique}",
        suffix=False,
    )
    other = active_discussion(
        rig.session_forum, scene, f"Tool library rota checklist {unique}", suffix=False
    )
    with rig.store.session() as session:
        judged = candidates.assess_topic(
            session, rig.settings, rig.forum.get_topic(duplicate), lambda _name: ()
        )
        assert judged.excluded is not None
        assert judged.excluded.startswith(
            f"near-duplicate of practice 'Seed swap evening {unique}'"
        )
        made = candidates.suggest_candidates(
            session, rig.forum, rig.settings, [duplicate, related, other]
        )
    by_topic = {s.topic_id: s for s in made}
    assert set(by_topic) == {related, other}
    assert any(
        r.startswith(f"similar to practice 'Seed swap evening {unique}'")
        for r in by_topic[related].reasons
    )
    assert not any(r.startswith("similar to") for r in by_topic[other].reasons)
    assert by_topic[related].score == by_topic[other].score == 4.0  # similarity adds nothing


def topic_reads(forum: SessionForum, topic_id: int) -> int:
    """How many times the forum was asked for the topic or its posts so far."""
    paths = {f"/t/{topic_id}.json", f"/t/{topic_id}/posts.json"}
    return sum(1 for call in forum.forum.api_log if call.path in paths)


def scoring_handlers(rig: SyncRig, events: list[Event]) -> None:
    """The events through what scoring depends on: the activity they record, then the
    candidate check."""
    for event in events:
        with rig.store.session() as session:
            ctx = HandlerContext(session, rig.settings)
            {
                "forum.post_created": activity.record_post,
                "forum.post_liked": activity.record_like,
                "forum.topic_created": activity.record_topic,
            }[event.kind](event, ctx)
            if event.kind == "forum.post_created":
                candidates.suggest_on_post(event, ctx)


def test_a_topic_is_scored_from_what_its_webhooks_delivered_once_it_has_enough_replies(
    rig: SyncRig, scene: Scene, forum: SessionForum
) -> None:
    client = admin(forum)
    with deliveries(forum) as receiver:
        made = client.acting_as(scene.author).create_topic(
            f"What worked for our tool library, step by step {forum.name('')}",
            BODY,
            category_id=scene.category_id,
            external_id=forum.name("x"),
        )
        first = client.get_topic(made.topic_id).posts[0].id
        client.acting_as(scene.partner).like(first)
        client.acting_as(scene.colleague).reply(made.topic_id, f"{BODY} First reply.")
        sent = events_about(forum, receiver, {made.topic_id})
        client.acting_as(scene.partner).reply(made.topic_id, f"{BODY} Second reply.")
        later = events_about(forum, receiver, {made.topic_id})[len(sent) :]
    asked = topic_reads(forum, made.topic_id)

    scoring_handlers(rig, sent)
    assert suggestions(rig) == []  # one reply: below min_replies
    scoring_handlers(rig, later + later)  # the second reply, and its replay
    [stored] = suggestions(rig)
    assert (stored.topic_id, stored.state, stored.score) == (made.topic_id, "open", 4.0)
    assert topic_reads(forum, made.topic_id) == asked  # scored without asking the forum
    with rig.store.session() as session:  # judged as the forum's own answer would be
        session.delete(session.get_one(PracticeSuggestion, stored.id))
        session.flush()
        [read] = candidates.suggest_candidates(session, client, rig.settings, [made.topic_id])
        assert (read.score, read.reasons) == (stored.score, stored.reasons)


def test_a_topic_whose_opening_never_reached_us_is_read_from_the_forum(
    rig: SyncRig, scene: Scene, forum: SessionForum
) -> None:
    with deliveries(forum) as receiver:
        topic_id = active_discussion(forum, scene, "Our checklist for shared rotas")
        sent = events_about(forum, receiver, {topic_id})
    replies = [
        e for e in sent if e.kind == "forum.post_created" and e.payload["post"]["post_number"] > 1
    ]
    assert len(replies) == 2
    asked = topic_reads(forum, topic_id)

    scoring_handlers(rig, replies)  # the first post's webhook was lost

    [stored] = suggestions(rig)
    assert (stored.topic_id, stored.score) == (topic_id, 4.0)  # the forum's likes count too
    assert topic_reads(forum, topic_id) > asked


@pytest.fixture
def sqlite_rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    """The rig as configured: commands open the store named in the settings."""
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def test_the_candidates_command_scans_lists_and_dismisses(
    sqlite_rig: SyncRig, scene: Scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = sqlite_rig
    topic_id = active_discussion(rig.session_forum, scene, "Our approach to shared rotas")
    title = rig.forum.get_topic(topic_id).title
    monkeypatch.setenv(CONFIG_PATH_VAR, str(write_config(rig, tmp_path)))
    runner = CliRunner()

    scanned = runner.invoke(practices_command, ["candidates", "--scan", "5"])

    assert scanned.exit_code == 0, scanned.output
    assert "scanned the 5 latest topics:" in scanned.output
    with rig.store.session() as session:
        found = session.scalars(
            select(PracticeSuggestion).where(PracticeSuggestion.topic_id == topic_id)
        ).one()
    assert f"  {found.id}  candidate  4  topic {topic_id}  {title}" in scanned.output
    dismissed = runner.invoke(
        practices_command, ["candidates", "--dismiss", str(found.id), "--by", "mod_anna"]
    )
    assert dismissed.exit_code == 0, dismissed.output
    assert f"dismissed {found.id}: {title}" in dismissed.output
    assert f"topic {topic_id}" not in dismissed.output.split("open suggestions")[1]
    again = runner.invoke(practices_command, ["candidates", "--dismiss", str(found.id)])
    assert again.exit_code == 1 and "already dismissed" in again.output


def write_config(rig: SyncRig, tmp_path: Path) -> Path:
    """The rig's settings as a configuration file, for the commands."""
    config = tmp_path / "constellate.toml"
    lines = []
    for name in ("service", "store", "wiki", "forum"):
        lines.append(f"[{name}]")
        for key, value in rig.settings[name].items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                lines.append(f"{key} = {value!r}".replace("'", '"'))
    config.write_text("\n".join(lines) + "\n")
    return config


def test_a_busy_topic_is_scored_again_only_as_its_replies_double(store: Store) -> None:
    with store.session() as session:
        asked = [candidates._worth_scoring_again(session, 4242, n) for n in range(2, 40)]
    scored_at = [n for n, yes in zip(range(2, 40), asked, strict=True) if yes]
    assert scored_at == [2, 4, 8, 16, 32]  # 38 replies, five forum reads
