"""A moderator's buttons in a real browser: approving an identity link, replaying a
failed outgoing webhook, and settling a sync conflict. Each starts from the real thing
(a suggestion made from the wiki's and forum's accounts, a message that failed against a
real receiver, a conflict made by editing both sides) and ends with the page and the
store agreeing on the outcome."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from community.constellations.models import PageTopicLink, SyncIssue
from community.constellations.sync import sync_constellations
from community.credits import people
from community.credits.models import Account, LinkSuggestion
from connectors.mediawiki import WikiClient
from tests.browser.conftest import MODERATOR, Camera, Site
from tests.webhooks.outgoing_support import SECRET, Receiver
from webhooks.incoming.forum_poll import post_event
from webhooks.outgoing import delivery, subscriptions
from webhooks.outgoing.delivery import deliver_due
from webhooks.outgoing.models import OutgoingMessage
from webhooks.outgoing.queue import fan_out

CONFLICTED = "Soil and Water Farming"


# -- identity links -------------------------------------------------------------------------


def test_approving_an_identity_link_on_the_people_page(
    moderator: Page, site: Site, camera: Camera
) -> None:
    page = moderator
    wiki_name, forum_name = "Rowan Browserfield", "rowan_browserfield"
    site.wiki.sandbox.run_maintenance("createAndPromote.php", wiki_name, secrets.token_hex(12))
    site.forum.create_user(forum_name, "Rowan Browserfield", "rowan.b@example.org")
    with site.store.session() as session:
        made = people.suggest_links(session, WikiClient(site.settings["wiki"]), site.forum)
        [suggestion] = [s for s in made if s.forum_username == forum_name]
        assert (suggestion.wiki_username, suggestion.state) == (wiki_name, "open")
        suggestion_id = suggestion.id

    page.goto("/dashboard/people")
    row = page.locator(f"#suggestion-{suggestion_id}")
    expect(row).to_contain_text(wiki_name)
    expect(row).to_contain_text(forum_name)
    expect(row).to_contain_text("same username")
    camera.shoot(page, "people-before")
    row.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(f"{site.url}/dashboard/people")
    expect(page.locator("p.flash.ok")).to_have_text(
        f"Suggestion {suggestion_id}: wiki:{wiki_name} and forum:{forum_name} are now one person."
    )
    expect(page.locator(f"#suggestion-{suggestion_id}")).to_have_count(0)
    camera.shoot(page, "people-after")
    with site.store.session() as session:
        decided = session.get_one(LinkSuggestion, suggestion_id)
        assert (decided.state, decided.decided_by) == ("linked", MODERATOR)
        owners = {
            account.platform: account.person_id
            for account in session.scalars(
                select(Account).where(Account.username.in_([wiki_name, forum_name]))
            )
        }
        assert owners["wiki"] == owners["forum"]


# -- outgoing webhooks ----------------------------------------------------------------------


@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    """A receiver that answers every delivery with a server error."""
    receiver = Receiver(script=[(500, {})] * delivery.MAX_ATTEMPTS)
    receiver.start()
    yield receiver
    receiver.stop()


def failed_message(site: Site, receiver: Receiver) -> OutgoingMessage:
    """A real forum post's event sent to ``receiver`` until delivery gives up (on a fake
    clock that starts two days ago, so the whole retry schedule has passed)."""
    event = post_event(site.forum.latest_posts()[0])  # as the forum poll makes it
    clock = site.now - timedelta(days=2)
    with site.store.session() as session:
        subscription = subscriptions.add(session, receiver.url, ["forum.post_created"], SECRET)
        assert fan_out(session, event, site.settings, now=clock) == 1
        message_id = session.scalars(
            select(OutgoingMessage.id).where(OutgoingMessage.subscription_id == subscription.id)
        ).one()
    for _ in range(delivery.MAX_ATTEMPTS):
        assert deliver_due(site.store, site.settings, now=clock) == 1
        with site.store.session() as session:
            clock = session.get_one(OutgoingMessage, message_id).next_attempt_at
    with site.store.session() as session:
        message = session.get_one(OutgoingMessage, message_id)
        assert (message.state, message.attempts) == ("failed", delivery.MAX_ATTEMPTS)
        session.expunge(message)
    assert len(receiver.received) == delivery.MAX_ATTEMPTS
    return message


def test_replaying_a_failed_delivery_on_the_webhooks_page(
    moderator: Page, site: Site, camera: Camera, failing_receiver: Receiver
) -> None:
    page = moderator
    message = failed_message(site, failing_receiver)

    page.goto("/dashboard/webhooks?show=outgoing")
    row = page.locator("table.outgoing tbody tr", has_text=message.msg_id)
    expect(row.locator(".badge").first).to_have_text("failed")
    expect(row).to_contain_text("HTTP 500")
    camera.shoot(page, "webhooks-failed")
    row.get_by_role("button", name="Replay").click()

    expect(page.locator("p.flash.ok")).to_contain_text(
        f"Outgoing message {message.id} is pending again"
    )
    row = page.locator("table.outgoing tbody tr", has_text=message.msg_id)
    expect(row.locator(".badge").first).to_have_text("pending")
    expect(row.get_by_role("button", name="Replay")).to_have_count(0)
    camera.shoot(page, "webhooks-replayed")
    with site.store.session() as session:
        replayed = session.get_one(OutgoingMessage, message.id)
        assert (replayed.state, replayed.attempts, replayed.msg_id) == (
            "pending",
            0,
            message.msg_id,
        )


# -- sync conflicts -------------------------------------------------------------------------


def make_conflict(site: Site, title: str) -> tuple[int, int]:
    """A person edits the charter post's goal on the forum and another the page's goal on
    the wiki; the sync records a conflict. Returns (issue id, forum post id)."""
    with site.store.session() as session:
        link = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title == title)).one()
        assert link.forum_post_id is not None
        post_id = link.forum_post_id
    raw = site.forum.get_post(post_id).raw or ""
    [goal_line] = [line for line in raw.splitlines() if line.startswith("**Goal:**")]
    site.forum.update_post(
        post_id, raw.replace(goal_line, "**Goal:** Healthy soil on every farm"), "by hand"
    )
    wiki = WikiClient(site.settings["wiki"])
    page = wiki.read_pages([title])[title]
    [goal_field] = [line for line in page.text.splitlines() if line.startswith("| goal =")]
    wiki.edit(
        title,
        page.text.replace(goal_field, "| goal = Water that stays on the land"),
        summary="A new goal",
        base=page,
    )
    summary = sync_constellations(site.store, site.settings, titles=[title])
    assert "conflict" in summary.headline(), summary.headline()
    with site.store.session() as session:
        [issue] = session.scalars(
            select(SyncIssue).where(SyncIssue.wiki_title == title, SyncIssue.resolved_at.is_(None))
        ).all()
        assert (issue.kind, issue.field) == ("conflict", "charter_post")
        return issue.id, post_id


def test_resolving_a_sync_conflict_on_the_sync_page(
    moderator: Page, site: Site, camera: Camera
) -> None:
    page = moderator
    issue_id, post_id = make_conflict(site, CONFLICTED)

    page.goto("/dashboard/sync")
    row = page.locator(f"table.conflicts #issue-{issue_id}")
    expect(row).to_contain_text(CONFLICTED)
    camera.shoot(page, "sync-conflict")
    row.get_by_role("button", name="Use the wiki's charter").click()

    expect(page.locator("p.flash.ok")).to_contain_text(f"Conflict on “{CONFLICTED}”")
    expect(page.locator(f"#issue-{issue_id}")).to_contain_text("queued: use the wiki's charter")
    assert site.work() == []  # the worker applies the queued choice

    page.reload()
    expect(page.locator(f"#issue-{issue_id}")).to_have_count(0)
    expect(page.locator("table.conflicts", has_text=CONFLICTED)).to_have_count(0)
    camera.shoot(page, "sync-resolved")
    with site.store.session() as session:
        assert session.get_one(SyncIssue, issue_id).resolved_at is not None
    assert "**Goal:** Water that stays on the land" in (site.forum.get_post(post_id).raw or "")
