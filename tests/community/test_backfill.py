"""The backfill against a real MediaWiki and the forum sandbox at Discourse's 60 admin
requests a minute (Constellate's budget: 30), over the demo's example history.

The live path is the same history as the platforms deliver it: the forum's webhooks sent
while the example was written (posts, likes, accepted solutions) and the wiki's changes,
handled by the real handlers; the leadership timeline by ``update_timeline``, as the
constellation sync calls it on a page's change. The wiki's eighteen months were imported,
as a wiki's past is older than its recent changes: they come as the changes a service
listening all along would have read, one per revision; later edits from the recent changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.backfill import ExampleHistory, example_history
from community.activity import (
    ForumLike,
    ForumPostActivity,
    WikiChangeActivity,
    record_like,
    record_post,
    record_wiki_change,
)
from community.backfill import cursors
from community.backfill.handlers import first_start_event
from community.backfill.run import run_backfill
from community.backfill.wiki import categories
from community.constellations.leadership import LeadershipChange, update_timeline
from community.constellations.leadership import timeline as lead_timeline
from community.constellations.sync import CATEGORY
from community.credits import people
from community.credits.forum_credit import credit_like, credit_post, credit_solution
from community.credits.models import Account, CreditEntry, CreditTotal
from community.credits.wiki_credit import credit_wiki_change
from community.handling import HandlerContext
from community.health.inputs import ScopeSpec, read_pages
from community.health.metrics import freshness
from community.health.scope import CONSTELLATION
from connectors.discourse import ForumClient
from connectors.mediawiki import WikiChange, WikiClient
from connectors.mediawiki.records import PageHead
from core import clock, event_kinds, forum_budget, inbox
from core.config import Settings
from core.events import Event
from core.forum_budget import Budget, MemoryLedger, limits_of
from core.models import InboxEvent
from core.store import Store
from sandbox.example_data import EXAMPLE, organisation_name
from sandbox.forum import webhooks
from sandbox.forum.server import ForumServer
from service.worker import Worker
from tests.sandbox.forum.receivers import Receiver
from webhooks.incoming.discourse_events import READ, normalise
from webhooks.incoming.wiki_events import change_event

SECRET = "backfill-test-secret"
RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # the moment freshness is judged at
# The handlers the backfill stands in for, per kind (activity and credit).
LIVE: dict[str, tuple[Callable[[Event, HandlerContext], None], ...]] = {
    event_kinds.FORUM_POST_CREATED: (record_post, credit_post),
    event_kinds.FORUM_POST_LIKED: (record_like, credit_like),
    event_kinds.FORUM_SOLUTION_ACCEPTED: (credit_solution,),
    event_kinds.WIKI_NEW: (record_wiki_change, credit_wiki_change),
    event_kinds.WIKI_EDIT: (record_wiki_change, credit_wiki_change),
}


STOPS = (12, 30)  # the batches a stopped run fails in


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ExampleHistory, list[Event]]]:
    """The example on a wiki and a forum of their own, and the live events of its history."""
    with ExitStack() as stack:
        receiver = stack.enter_context(Receiver())

        def hook(server: ForumServer) -> None:
            config = {"url": server.url, "api_key": server.api_key, "api_username": "system"}
            ForumClient(config).create_web_hook(receiver.url, SECRET)

        history = stack.enter_context(
            example_history(tmp_path_factory.mktemp("backfill"), prepare=hook)
        )
        assert history.server.forum is not None
        assert webhooks.drain(history.server.forum, timeout=30)
        events = [
            normalise(r.event, r.json, r.body, delivery_id=str(r.event_id), received=RECEIVED)
            for r in sorted(receiver.requests, key=lambda r: r.event_id)
            if r.event in READ
        ]
        # The pages the backfill reads: those of the constellation, practice and partner
        # categories (the wiki's own Main Page and templates are not the community's).
        wiki = WikiClient(history.wiki_config)
        settings, _store = history.fresh_store("names")
        edit_as_a_person(history, wiki)
        pages = list(wiki.category_members(categories(settings)))
        titles = {page.title for page in pages}
        recent = [c for c in wiki.recent_changes(None) if c.title in titles]
        changes = recent + imported_changes(wiki, pages, {c.revid for c in recent})
        events += [change_event(c) for c in sorted(changes, key=lambda c: c.timestamp)]
        yield history, [e for e in events if e.kind in LIVE]


def imported_changes(wiki: WikiClient, pages: list[PageHead], recent: set[int]) -> list[WikiChange]:
    """A change per revision the recent changes do not hold, as the wiki would have told
    it; a negative rcid keeps each apart from the wiki's own."""
    return [
        WikiChange(
            cursor="",
            rcid=-revision.revid,
            type="edit" if revision.parentid else "new",
            title=page.title,
            ns=0,
            pageid=page.pageid,
            revid=revision.revid,
            old_revid=revision.parentid,
            timestamp=revision.timestamp,
            user=revision.user,
            comment=revision.comment,
            bot=False,
            minor=False,
            old_size=None,
            new_size=revision.size,
        )
        for page in pages
        for revision in wiki.revisions(page.title)
        if revision.revid not in recent
    ]


def edit_as_a_person(history: ExampleHistory, wiki: WikiClient) -> None:
    """A person adds to one constellation page and writes a practice page of their own."""
    person = WikiClient(history.human_config, bot=False)
    title = sorted(p.title for p in wiki.category_members([CATEGORY]))[0]
    page = person.read_pages([title])[title]
    person.edit(
        title,
        str(page.text) + "\nWe meet on the first Monday of each month to plan.\n",
        summary="notes",
        base=page,
    )
    person.edit(
        "Shared Seed Library",
        "{{Practice\n| summary = Seeds kept and lent by members\n}}\n\nA library of seeds "
        "of the community.\n",
        summary="a practice",
        mode="create",
    )


def budgeted(settings: Settings) -> AbstractContextManager[None]:
    """The deployment's share of the forum's 60 a minute."""
    return forum_budget.using(Budget(MemoryLedger(), limits_of(settings)))


def backfilled(history: ExampleHistory, name: str) -> tuple[Settings, Store]:
    settings, store = history.fresh_store(name)
    with budgeted(settings):
        report = run_backfill(store.session, settings)
    assert report.complete
    return settings, store


def live(history: ExampleHistory, events: list[Event], store: Store, settings: Settings) -> None:
    """The events through their handlers, then each constellation's timeline."""
    with budgeted(settings):
        for event in events:
            with store.session() as session:
                context = HandlerContext(session, settings)
                for handler in LIVE[event.kind]:
                    handler(event, context)
    wiki = WikiClient(settings["wiki"])
    with store.session() as session:
        for page in wiki.category_members([CATEGORY]):
            update_timeline(session, wiki, title=page.title, page_id=page.pageid)


def ledger_rows(store: Store) -> list[tuple[str, float]]:
    with store.session() as session:
        rows = session.execute(select(CreditEntry.entry_key, CreditEntry.weight))
        return sorted((key, round(weight, 9)) for key, weight in rows)


def solution_dates(store: Store) -> list[tuple[datetime, datetime]]:
    """Each accepted solution's credit date beside its answer's time."""
    with store.session() as session:
        answered = dict(
            session.execute(select(ForumPostActivity.post_id, ForumPostActivity.created_at)).all()
        )
        credits = session.execute(
            select(CreditEntry.object, CreditEntry.occurred_at).where(
                CreditEntry.kind == "accepted_solution"
            )
        )
        return [(at, answered[int(obj.split(":")[1])]) for obj, at in credits]


def timeline(store: Store) -> list[tuple[Any, ...]]:
    with store.session() as session:
        return sorted(
            (c.wiki_page_id, c.revid, c.timestamp, c.user, c.lead_partner, tuple(c.partners))
            for c in session.scalars(select(LeadershipChange))
        )


def activity(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store.session() as session:
        posts = sorted(
            session.execute(
                select(
                    ForumPostActivity.post_id,
                    ForumPostActivity.topic_id,
                    ForumPostActivity.category_id,
                    ForumPostActivity.username,
                    ForumPostActivity.deleted,
                )
            ).all()
        )
        likes = sorted(session.execute(select(ForumLike.post_id, ForumLike.username)).all())
    return [tuple(row) for row in posts], [tuple(row) for row in likes]


def fresh_figures(store: Store, settings: Settings) -> dict[str, Any]:
    """Each constellation's freshness as the health metrics judge it at ``NOW``."""
    wiki = WikiClient(settings["wiki"])
    figures = {}
    with store.session() as session:
        for page in wiki.category_members([CATEGORY]):
            spec = ScopeSpec(
                f"{CONSTELLATION}:{page.pageid}", CONSTELLATION, page.title, 0, None, page.pageid
            )
            pages = read_pages(session, settings, spec)
            figures[page.title] = (pages, freshness(pages, [], now=NOW, days=30, min_posts=0))
    return figures


def row_counts(store: Store) -> dict[str, int]:
    tables = (CreditEntry, ForumPostActivity, ForumLike, WikiChangeActivity, LeadershipChange)
    with store.session() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in tables
        }


def test_backfill_writes_what_the_live_path_writes_and_later_events_add_nothing(
    world: tuple[ExampleHistory, list[Event]],
) -> None:
    history, events = world
    live_settings, live_store = history.fresh_store("live")
    live(history, events, live_store, live_settings)
    settings, store = backfilled(history, "backfilled")

    assert ledger_rows(store) == ledger_rows(live_store)
    kinds = {key.split("|")[0] for key, _ in ledger_rows(store)}
    assert {
        "forum_reply",
        "like_received",
        "accepted_solution",
        "wiki_text",
        "page_created",
    } <= kinds
    assert solution_dates(store) and all(
        credited == answered for credited, answered in solution_dates(store)
    )  # /posts.json does not say when an answer was accepted: its own time stands in
    assert timeline(store) == timeline(live_store)
    assert len({change[0] for change in timeline(store)}) == 4  # every constellation
    assert activity(store) == activity(live_store)
    assert fresh_figures(store, settings) == fresh_figures(live_store, live_settings)

    # (d) The same posts, likes, solutions and revisions arriving live afterwards.
    before = row_counts(store)
    live(history, events, store, settings)
    assert row_counts(store) == before


def test_a_stopped_backfill_resumes_without_duplicates_and_a_rerun_changes_nothing(
    world: tuple[ExampleHistory, list[Event]],
) -> None:
    history, _events = world
    _settings, whole = backfilled(history, "whole")
    settings, store = history.fresh_store("stopped")
    batches = 0

    @contextmanager
    def failing_batch() -> Iterator[Session]:
        """The store's batch, failing inside the 12th (a wiki page) and the 30th (the
        forum's) after their rows were written: what they wrote is rolled back."""
        nonlocal batches
        with store.session() as session:
            yield session
            batches += 1
            if batches in STOPS:
                session.flush()
                raise Interrupted

    for _stop in STOPS:
        with budgeted(settings), pytest.raises(Interrupted):
            run_backfill(failing_batch, settings)
        with store.session() as session:
            assert not cursors.completed(session)
    with budgeted(settings):
        assert run_backfill(store.session, settings).complete
    assert ledger_rows(store) == ledger_rows(whole)
    assert activity(store) == activity(whole)
    assert timeline(store) == timeline(whole)
    assert row_counts(store) == row_counts(whole)

    # (c) Twice changes nothing, and asks the forum nothing.
    forum = ForumClient(settings["forum"])
    with budgeted(settings):
        again = run_backfill(store.session, settings, forum=forum)
    assert again.complete and forum.request_counts.total() == 0
    assert row_counts(store) == row_counts(whole)
    with store.session() as session:
        cursors.restart(session)
    with budgeted(settings):
        assert run_backfill(store.session, settings).complete
    assert row_counts(store) == row_counts(whole)
    assert ledger_rows(store) == ledger_rows(whole)


def test_the_first_start_backfills_through_the_inbox_in_chunks(
    world: tuple[ExampleHistory, list[Event]],
) -> None:
    """What a service's first start records is worked off by a worker chunk by chunk,
    each inside its lease, and ends with an uninterrupted run's rows; then nothing more
    is asked for. (The real clock: the forum sandbox counts its 60 a minute on it.)"""
    history, _events = world
    _settings, whole = backfilled(history, "whole-for-chunks")
    settings, store = history.fresh_store("chunks")
    settings["worker"]["lease_seconds"] = 3  # a chunk reads for one second
    with store.session() as session:
        first = first_start_event(session, settings, clock.now())
        assert first is not None
        inbox.record(session, first)
    worker = Worker(store, settings, sleep=lambda _seconds: None)
    deadline = time.monotonic() + 120
    while waiting(store) and time.monotonic() < deadline:
        if not worker.run_once():
            time.sleep(0.1)  # a chunk put back until the forum budget has room
    with store.session() as session:
        chunks = session.scalars(
            select(InboxEvent).where(InboxEvent.kind == event_kinds.BACKFILL_DUE)
        ).all()
        assert len(chunks) > 1 and {c.state for c in chunks} == {"done"}
        assert cursors.completed(session)
        assert first_start_event(session, settings, clock.now()) is None
    assert ledger_rows(store) == ledger_rows(whole)
    assert row_counts(store) == row_counts(whole)


def waiting(store: Store) -> int:
    with store.session() as session:
        pending = InboxEvent.state.in_(("pending", "claimed"))
        return session.scalar(select(func.count()).where(pending)) or 0


def test_the_example_history_credits_people_apart_and_shows_rotations(
    world: tuple[ExampleHistory, list[Event]],
) -> None:
    """After the backfill each person's wiki credit is their own share of the page text
    that survives; once a moderator links the suggested accounts, people hold credit from
    both platforms; each active constellation's timeline shows its leads months apart."""
    history, _events = world
    settings, store = backfilled(history, "people")
    wiki, forum = WikiClient(settings["wiki"]), ForumClient(settings["forum"])
    with budgeted(settings), store.session() as session:
        for suggestion in people.suggest_links(session, wiki, forum):
            people.link(session, suggestion.id, "moderator")
    with store.session() as session:
        totals = session.execute(
            select(Account.person_id, Account.platform, CreditTotal.kind, CreditTotal.points).join(
                CreditTotal, CreditTotal.account_id == Account.id
            )
        ).all()
        pages = {p.title: p.pageid for p in wiki.category_members([CATEGORY])}
        leads = {
            c.name: [
                (row.lead_partner, row.timestamp) for row in lead_timeline(session, pages[c.name])
            ]
            for c in EXAMPLE.constellations
        }
    text = sorted(points for _, _, kind, points in totals if kind == "wiki_text")
    assert len(text) >= 15 and text[-1] > 3 * text[0]
    assert len({round(points, 2) for points in text}) >= 15  # a share of one's own
    wiki_people = {
        person for person, platform, _, points in totals if platform == "wiki" and points > 0
    }
    forum_people = {
        person for person, platform, _, points in totals if platform == "forum" and points > 0
    }
    assert len(wiki_people & forum_people) >= 10
    for constellation in EXAMPLE.constellations:
        changes = leads[constellation.name]
        assert changes[-1][0] == organisation_name(constellation.lead_partner)
        if constellation.status == "active":
            assert len({lead for lead, _ in changes}) >= 3, changes
            assert all(b - a > timedelta(days=60) for (_, a), (_, b) in pairwise(changes))
