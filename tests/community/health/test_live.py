"""The incremental step against the store: a kept scope takes only its category's new
posts, anything else that changed builds it again, and its figures are always those of a
full recompute — on SQLite and PostgreSQL (the store's triggers count the changes)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from community.activity import ForumPostActivity, WikiChangeActivity
from community.constellations.models import PageTopicLink
from community.credits.models import Account, Person
from community.health import inputs as health_inputs
from community.health import live
from community.health.compute import compute, recompute_all, update_scope
from community.health.conversation import PageEdit
from community.health.first_posts import refresh_first_posts
from community.health.inputs import ScopeSpec, load_inputs, spec_for
from community.health.models import EVERY_INPUT, WIKI_PAGES, HealthGeneration, HealthPostLog
from community.health.scope import ScopeHealth
from core.config import DEFAULTS, Settings
from core.migrate import downgrade, upgrade
from core.store import Store
from tests.dashboards.overview_support import post

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CATEGORY = 77
SCOPE = f"category:{CATEGORY}"


@pytest.fixture
def settings() -> Settings:
    return copy.deepcopy(DEFAULTS)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """Each time a scope is built from the store (the moment it was built for)."""
    live.forget_all()
    made: list[datetime] = []
    original = health_inputs.load_inputs

    def counted(*args: object, **kwargs: object) -> object:
        made.append(kwargs["now"])  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(live, "load_inputs", counted)
    yield made
    live.forget_all()


def conversation(store: Store) -> None:
    """Alice's topic, answered by Bob, and Bob's, unanswered, a week before ``NOW``;
    Carol (of another organisation) has not posted yet."""
    with store.session() as session:
        for username, organisation in (("alice", "North"), ("bob", "North"), ("carol", "South")):
            person = Person(name=username, organisation=organisation)
            session.add(person)
            session.flush()
            session.add(Account(platform="forum", username=username, person_id=person.id))
        post(session, 1, 1, 1, "alice", NOW - 170 * HOUR, category_id=CATEGORY)
        post(session, 2, 1, 2, "bob", NOW - 160 * HOUR, category_id=CATEGORY)
        post(session, 3, 2, 1, "bob", NOW - 150 * HOUR, category_id=CATEGORY)
        refresh_first_posts(session, ["alice", "bob"])
        session.commit()


def full(store: Store, settings: Settings, now: datetime) -> ScopeHealth:
    with store.session() as session:
        spec = spec_for(session, SCOPE)
        assert spec is not None
        return compute(spec, load_inputs(session, settings, spec, now=now), settings, now=now)


def updated(store: Store, settings: Settings, now: datetime, scope: str = SCOPE) -> ScopeHealth:
    with store.session() as session:
        health = update_scope(session, settings, scope, now=now)
        session.commit()
    return health


def reply(store: Store, post_id: int, topic: int, number: int, who: str, at: datetime) -> None:
    with store.session() as session:
        post(session, post_id, topic, number, who, at, category_id=CATEGORY)
        refresh_first_posts(session, [who])
        session.commit()


def test_a_new_post_brings_the_kept_scope_forward_without_reading_it_again(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    conversation(store)
    first = updated(store, settings, NOW)
    assert first == full(store, settings, NOW)
    assert first.figure(7, "newcomers.newcomers") == 1  # Bob; Alice began 170 hours ago
    # Carol's first post ever, new to the scope, answers topic 2: a newcomer, answered.
    reply(store, 4, 2, 2, "carol", NOW + HOUR)
    later = updated(store, settings, NOW + 2 * HOUR)
    assert later == full(store, settings, NOW + 2 * HOUR)
    assert later.figure(7, "newcomers.newcomers") == 2
    assert later.figure(30, "first_response.answered") == 2
    assert builds == [NOW]  # built once, then brought forward


def test_a_post_written_after_now_is_seen_once_now_passes_it(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    conversation(store)
    reply(store, 4, 2, 2, "alice", NOW + 3 * HOUR)
    assert updated(store, settings, NOW).figure(30, "first_response.answered") == 1
    passed = updated(store, settings, NOW + 4 * HOUR)
    assert passed.figure(30, "first_response.answered") == 2
    assert passed == full(store, settings, NOW + 4 * HOUR)
    assert builds == [NOW]


def test_a_reply_to_a_topic_older_than_the_look_back_reads_that_topic(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    conversation(store)
    with store.session() as session:
        post(session, 9, 5, 1, "carol", NOW - 400 * 24 * HOUR, category_id=CATEGORY)
        session.commit()
    updated(store, settings, NOW)
    reply(store, 10, 5, 2, "alice", NOW + HOUR)  # answers Carol's post of last year
    later = updated(store, settings, NOW + 2 * HOUR)
    assert later == full(store, settings, NOW + 2 * HOUR)
    # Bob to Alice (one organisation) and Alice to Carol's post of last year (across).
    assert later.figure(7, "cross_organisation.replies") == 2
    assert later.figure(7, "cross_organisation.cross") == 1
    assert builds == [NOW]


@pytest.mark.parametrize("change", ["deleted", "bot", "linked"])
def test_a_change_to_anything_else_builds_the_scope_again(
    store: Store, settings: Settings, builds: list[datetime], change: str
) -> None:
    conversation(store)
    updated(store, settings, NOW)
    with store.session() as session:
        if change == "deleted":  # a post deleted: a stored post changed
            session.execute(
                update(ForumPostActivity).where(ForumPostActivity.post_id == 2).values(deleted=True)
            )
            refresh_first_posts(session, ["bob"])
        elif change == "bot":  # an account marked as a bot
            session.execute(update(Account).where(Account.username == "bob").values(is_bot=True))
        else:  # a moderator links Carol's account to Alice
            alice = session.scalar(select(Account.person_id).where(Account.username == "alice"))
            session.execute(
                update(Account).where(Account.username == "carol").values(person_id=alice)
            )
        session.commit()
    assert updated(store, settings, NOW + HOUR) == full(store, settings, NOW + HOUR)
    assert builds == [NOW, NOW + HOUR]


def test_an_edit_that_changes_nothing_the_figures_read_keeps_the_scope(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    conversation(store)
    updated(store, settings, NOW)
    with store.session() as session:
        session.execute(
            update(ForumPostActivity)
            .where(ForumPostActivity.post_id == 2)
            .values(updated_at=NOW - HOUR)
        )
        session.commit()
    assert updated(store, settings, NOW + HOUR) == full(store, settings, NOW + HOUR)
    assert builds == [NOW]


def test_a_wiki_edit_reads_the_pages_again_and_keeps_the_posts(
    store: Store, settings: Settings, builds: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation(store)
    updated(store, settings, NOW)
    read: list[str] = []

    def read_pages(_session: object, _settings: object, spec: ScopeSpec) -> list[PageEdit]:
        read.append(spec.scope)
        return []

    monkeypatch.setattr(live, "read_pages", read_pages)
    updated(store, settings, NOW + HOUR)
    assert read == []  # nothing changed on the wiki
    with store.session() as session:
        session.add(
            WikiChangeActivity(
                change_key="rc:1", title="Seed Swaps", user="Alice", timestamp=NOW, type="edit"
            )
        )
        session.commit()
        generation = session.scalar(
            select(HealthGeneration.generation).where(HealthGeneration.stream == WIKI_PAGES)
        )
    assert generation == 1
    updated(store, settings, NOW + 2 * HOUR)
    assert read == [SCOPE]
    assert builds == [NOW]


def test_a_newcomer_posting_elsewhere_is_read_again(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    """Carol's first post ever is here; her second, in another category, makes her a
    newcomer who returned: her first posts changed, so they are read again."""
    conversation(store)
    reply(store, 4, 2, 2, "carol", NOW - 31 * 24 * HOUR)
    assert updated(store, settings, NOW).figure(90, "newcomers.returned") == 0
    with store.session() as session:
        post(session, 5, 9, 1, "carol", NOW - 10 * 24 * HOUR, category_id=CATEGORY + 1)
        refresh_first_posts(session, ["carol"])
        session.commit()
    later = updated(store, settings, NOW + HOUR)
    assert later.figure(90, "newcomers.returned") == 1
    assert later == full(store, settings, NOW + HOUR)
    assert builds == [NOW]


def test_a_changed_charter_builds_the_constellation_again(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    """A sync that rewrites the link but not the charter keeps the scope; a new lead
    partner (whose people are the centre) builds it again."""
    conversation(store)
    charter = {"status": "active", "lead_partner": "North", "beat": "weekly", "stewards": []}
    with store.session() as session:
        session.add(
            PageTopicLink(
                wiki_page_id=7,
                wiki_title="Seed Swaps",
                external_id="constellate-page-7",
                forum_category_id=CATEGORY,
                charter=charter,
            )
        )
        session.commit()
    scope = "constellation:7"

    to_centre = "edge_replies.replies_to_centre"
    assert updated(store, settings, NOW, scope).figure(7, to_centre) == 1  # Bob to Alice
    with store.session() as session:
        session.execute(update(PageTopicLink).values(synced_hash="abc"))
        session.commit()
    updated(store, settings, NOW + HOUR, scope)
    assert builds == [NOW]
    with store.session() as session:
        session.execute(update(PageTopicLink).values(charter={**charter, "lead_partner": "South"}))
        session.commit()
    assert updated(store, settings, NOW + 2 * HOUR, scope).figure(7, to_centre) == 0
    assert builds == [NOW, NOW + 2 * HOUR]


def test_a_rolled_back_post_is_forgotten(
    store: Store, settings: Settings, builds: list[datetime]
) -> None:
    conversation(store)
    updated(store, settings, NOW)
    with store.session() as session:
        post(session, 4, 2, 2, "carol", NOW + HOUR, category_id=CATEGORY)
        seen = update_scope(session, settings, SCOPE, now=NOW + 2 * HOUR)
        assert seen.figure(30, "first_response.answered") == 2  # its own post, uncommitted
        session.rollback()
    after = updated(store, settings, NOW + 3 * HOUR)
    assert after.figure(30, "first_response.answered") == 1
    assert after == full(store, settings, NOW + 3 * HOUR)
    assert builds == [NOW, NOW + 3 * HOUR]


def test_a_scope_behind_a_pruned_log_is_built_again(
    store: Store, settings: Settings, builds: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation(store)
    updated(store, settings, NOW)
    for n in range(3):
        reply(store, 10 + n, 1, 3 + n, "carol", NOW + n * HOUR)
    monkeypatch.setattr(live, "LOG_KEPT", 1)
    with store.session() as session:
        recompute_all(session, settings, now=NOW + 4 * HOUR)
        session.commit()
        assert session.scalar(select(func.count()).select_from(HealthPostLog)) == 1
    assert updated(store, settings, NOW + 5 * HOUR) == full(store, settings, NOW + 5 * HOUR)
    assert builds == [NOW, NOW + 5 * HOUR]


def test_a_store_made_again_at_the_same_address_builds_the_scope_again(
    store_url: str, settings: Settings, builds: list[datetime]
) -> None:
    """Figures kept for one store are never brought forward in another that happens to
    have the same address and the same counts (a test's database made again)."""
    for _ in range(2):
        downgrade(store_url, "base")
        upgrade(store_url)
        made = Store(store_url)
        conversation(made)
        assert updated(made, settings, NOW) == full(made, settings, NOW)
        made.dispose()
    assert builds == [NOW, NOW]


def test_the_scopes_updated_longest_ago_are_forgotten_past_the_posts_kept(
    store: Store, settings: Settings, builds: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation(store)
    with store.session() as session:
        post(session, 5, 9, 1, "carol", NOW - HOUR, category_id=CATEGORY + 1)
        session.commit()
    monkeypatch.setattr(live, "KEPT_POSTS", 3)  # the first scope has 3 posts, the other 1
    other = f"category:{CATEGORY + 1}"
    updated(store, settings, NOW)
    updated(store, settings, NOW, other)  # 4 posts kept: the first scope goes
    updated(store, settings, NOW + HOUR, other)
    updated(store, settings, NOW + HOUR)
    assert builds == [NOW, NOW, NOW + HOUR]


def test_the_triggers_count_new_posts_per_category_and_other_changes_once(
    store: Store,
) -> None:
    conversation(store)
    with store.session() as session:
        every = session.scalar(
            select(HealthGeneration.generation).where(HealthGeneration.stream == EVERY_INPUT)
        )
        logged = session.execute(
            select(HealthPostLog.generation, HealthPostLog.post_id)
            .where(HealthPostLog.category_id == CATEGORY)
            .order_by(HealthPostLog.generation)
        ).all()
        # The same post stored again (a webhook twice) changes nothing.
        post(session, 2, 1, 2, "bob", NOW - 160 * HOUR, category_id=CATEGORY)
        session.commit()
        again = session.scalar(
            select(HealthGeneration.generation).where(HealthGeneration.stream == EVERY_INPUT)
        )
    assert [tuple(row) for row in logged] == [(1, 1), (2, 2), (3, 3)]
    assert again == every
