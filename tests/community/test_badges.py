"""Badges on the forum sandbox: thresholds from the three metrics, granted once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from community.activity import record_post
from community.constellations.models import PageTopicLink
from community.credits import ledger, people
from community.credits.badges import award_badges, cross_organisation_replies
from community.credits.cli import credits_group
from community.credits.forum_credit import credit_post
from community.handling import HandlerContext
from connectors.discourse.records import Post
from core.config import CONFIG_PATH_VAR
from core.events import Event
from sandbox.forum.serial_posts import webhook_post
from tests.community.constellations.sync_support import SyncRig

BODY = "A reply long enough for the forum's minimum, number"


def record(session: Session, rig: SyncRig, post: Post) -> None:
    """What the forum event handlers keep for a post: its activity row and its credit."""
    record_payload(session, rig, dict(post.data))


def record_sent(session: Session, rig: SyncRig, post_id: int) -> None:
    """The same, from the post as the forum's webhook sends it (topic archetype included)."""
    forum = rig.session_forum.forum
    record_payload(session, rig, webhook_post(forum, forum.table("posts")[post_id]))


def record_payload(session: Session, rig: SyncRig, payload: dict[str, Any]) -> None:
    event = Event(
        event_id=f"forum:post_created:{payload['id']}",
        kind="forum.post_created",
        source="forum",
        subject=f"post:{payload['id']}",
        actor=str(payload["username"]),
        occurred_at=datetime.now(UTC),
        delivery_id=None,
        payload={"post": payload},
    )
    record_post(event, HandlerContext(session, rig.settings))
    credit_post(event, HandlerContext(session, rig.settings))


def person_with(session: Session, platform: str, username: str, organisation: str) -> None:
    account = people.ensure_account(session, platform, username)
    person = session.get(people.Person, account.person_id)
    assert person is not None
    person.organisation = organisation


def test_badges_are_granted_once_from_the_three_metrics(rig: SyncRig) -> None:
    forum, names = rig.forum, rig.session_forum.name
    replier, asker, sharer, lead = names("br"), names("ba"), names("bs"), names("bl")
    for username in (replier, asker, sharer, lead):
        forum.create_user(username, username.title(), f"{username}@example.org")
    org_a, org_b = f"Org A {names('')}", f"Org B {names('')}"
    lead_org, wiki_only = f"Harbour {names('')}", f"Wiki Steward {names('')}"

    # Five replies from org A to org B's topic; one more to a colleague's reply does not count.
    made = forum.acting_as(asker).create_topic(
        f"A question across organisations {names('')}",
        BODY + " zero.",
        category_id=None,
        external_id=names("x"),
    )
    topic = forum.get_topic(made.topic_id)
    posts = [topic.posts[0]]
    posts += [forum.acting_as(replier).reply(topic.id, f"{BODY} {n}.") for n in range(5)]
    posts.append(forum.acting_as(sharer).reply(topic.id, f"{BODY} six.", reply_to_post_number=2))

    title = rig.session_wiki.title("Badge constellation")
    charter = (
        "{{Constellation\n| goal = Lead something\n"
        f"| lead_partner = {lead_org}\n| partners = {lead_org}, {org_a}\n"
        f"| stewards = {lead}, {wiki_only}\n| status = active\n"
        "| forum_category = badges\n}}\n"
    )
    page = rig.wiki.edit(title, charter, summary="test", mode="create")

    with rig.store.session() as session:
        for post in posts:
            record(session, rig, post)
        person_with(session, "forum", replier, org_a)
        person_with(session, "forum", asker, org_b)
        person_with(session, "forum", sharer, org_a)
        person_with(session, "forum", lead, lead_org)
        person_with(session, "wiki", wiki_only, lead_org)  # a steward with no forum account
        ledger.credit(
            session,
            ledger.Contribution(
                platform="forum",
                account=sharer,
                kind="practice_adopted",
                object="practice:1",
                ref=f"adoption:{org_b}",
                weight=15,
                occurred_at=datetime.now(UTC),
                rule="practice_adopted",
            ),
        )
        session.add(
            PageTopicLink(wiki_page_id=page.pageid, wiki_title=title, external_id=names("c"))
        )
        session.commit()

    # The forum already shows the sharer's badge (granted by hand): recorded, not re-granted.
    known = {b.name: b for b in forum.badges()}
    sharer_badge = known.get("Practice Sharer") or forum.create_badge(
        "Practice Sharer", badge_type_id=3, description="by hand"
    )
    by_hand = forum.grant_badge(sharer, sharer_badge.id)

    with rig.store.session() as session:
        grants = award_badges(session, forum, rig.settings, wiki=rig.wiki)
        session.commit()
        assert sorted((g.badge, g.username) for g in grants) == sorted(
            [
                ("bridge_builder", replier),
                ("constellation_lead", lead),
                ("practice_sharer", sharer),
            ]
        )
        sharer_grant = next(g for g in grants if g.username == sharer)
        assert sharer_grant.user_badge_id == by_hand.id

    with rig.store.session() as session:
        assert award_badges(session, forum, rig.settings, wiki=rig.wiki) == []

    known = {b.name: b for b in forum.badges()}
    for username, badge in ((replier, "Bridge Builder"), (lead, "Constellation Lead")):
        held = [b for b in forum.user_badges(username) if b.badge_id == known[badge].id]
        assert len(held) == 1
    assert [
        b for b in forum.user_badges(asker) if b.badge_id in {k.id for k in known.values()}
    ] == []


def test_replies_in_a_private_message_build_no_bridge(rig: SyncRig) -> None:
    """Cross-organisation replies count from active reply credit only: of five replies
    in a private message and two in a public topic (one deleted), one counts."""
    forum, names = rig.forum, rig.session_forum.name
    replier, asker = names("pr"), names("pa")
    for username in (replier, asker):
        forum.create_user(username, username.title(), f"{username}@example.org")
    message = rig.session_forum.client(asker).create_post(
        f"{BODY} zero.",
        title=f"A private question {names('')}",
        archetype="private_message",
        target_recipients=replier,
    )
    private = [
        forum.acting_as(replier).reply(message["topic_id"], f"{BODY} {n}.") for n in range(5)
    ]
    public = forum.acting_as(asker).create_topic(
        f"A public question {names('')}", BODY + " zero.", category_id=None, external_id=names("x")
    )
    assert public.post_id is not None
    kept, gone = (forum.acting_as(replier).reply(public.topic_id, f"{BODY} {n}.") for n in "ab")
    with rig.store.session() as session:
        for post_id in [message["id"], *(p.id for p in private), public.post_id, kept.id, gone.id]:
            record_sent(session, rig, post_id)
        session.commit()
    rig.session_forum.client(rig.session_forum.api_username)._delete(f"/posts/{gone.id}.json")
    with rig.store.session() as session:
        record_sent(session, rig, gone.id)  # the deletion, as the handlers see it
        person_with(session, "forum", replier, f"Org A {names('')}")
        person_with(session, "forum", asker, f"Org B {names('')}")
        session.flush()
        replier_id = people.ensure_account(session, "forum", replier).person_id
        assert cross_organisation_replies(session, rig.settings, None)[replier_id] == 1


def write_config(rig: SyncRig, path: Path) -> Path:
    lines = []
    for name in ("service", "store", "wiki", "forum"):
        lines.append(f"[{name}]")
        for key, value in rig.settings[name].items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                lines.append(f"{key} = {value!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_credits_commands_report_badges_and_authorship(
    rig: SyncRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_PATH_VAR, str(write_config(rig, tmp_path / "constellate.toml")))
    wiki = rig.session_wiki
    title = wiki.title("Credits command")
    wiki.human().edit(title, "one two three four", summary="test", mode="create")
    runner = CliRunner()

    done = runner.invoke(credits_group, ["authorship", title])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[1:] == [f"  {wiki.sandbox.human_username}: 4 tokens (100.0%)"]
    done = runner.invoke(credits_group, ["badges"])
    assert done.exit_code == 0, done.output
    assert done.output == "badges granted: 0\n"  # nobody in this store earned one
    missing = runner.invoke(credits_group, ["authorship", wiki.title("Credits none")])
    assert missing.exit_code == 1 and "no such page" in missing.output
