"""Wiki → forum when people act on either side: forum edits merged or recorded as
conflicts, deleted pages archived, restored pages relinked."""

from __future__ import annotations

from community.constellations.models import open_issues
from tests.community.constellations.test_forum_mirror import Harness, charter_text, harness, store
from tests.conftest import SessionForum

__all__ = ["harness", "store"]  # fixtures used by the tests below


def created(harness: Harness, title: str) -> int:
    harness.write_page(title, charter_text())
    assert harness.sync(title).action == "created"
    page = harness.page(title)
    assert page.pageid is not None
    return page.pageid


def edit_on_forum(forum: SessionForum, post_id: int, change: tuple[str, str]) -> None:
    """A person edits the charter post on the forum."""
    raw = forum.client().post_by_id(post_id)["raw"]
    assert change[0] in raw
    forum.client().update_post(post_id, raw.replace(*change), edit_reason="by hand")


def test_a_forum_edit_is_merged_with_the_wiki_change(harness: Harness) -> None:
    title = harness.wiki.title("WF Merge")
    page_id = created(harness, title)
    link = harness.link(page_id)
    assert link.forum_post_id is not None
    edit_on_forum(
        harness.forum_sandbox,
        link.forum_post_id,
        ("**Stewards:** Ana, Ben", "**Stewards:** Ana, Ben, Cleo"),
    )

    harness.write_page(title, charter_text(beat="weekly"))
    assert harness.sync(title).action == "merged"

    post = harness.first_post(link.forum_topic_id or 0).splitlines()
    assert "**Stewards:** Ana, Ben, Cleo" in post  # the person's edit
    assert "**Beat:** weekly" in post  # the wiki's change
    assert harness.link(page_id).synced_text == "\n".join(post)

    # A later wiki change keeps the merged edit, and is a plain update.
    harness.write_page(title, charter_text(beat="monthly"))
    assert harness.sync(title).action == "updated"
    post = harness.first_post(link.forum_topic_id or 0).splitlines()
    assert "**Stewards:** Ana, Ben, Cleo" in post and "**Beat:** monthly" in post


def test_colliding_edits_are_recorded_and_nothing_is_overwritten(harness: Harness) -> None:
    title = harness.wiki.title("WF Conflict")
    page_id = created(harness, title)
    link = harness.link(page_id)
    assert link.forum_post_id is not None
    goal = "**Goal:** Share one open data standard for food banks"
    edit_on_forum(harness.forum_sandbox, link.forum_post_id, (goal, "**Goal:** Feed everyone"))
    forum_text = harness.first_post(link.forum_topic_id or 0)
    wiki_text = charter_text(goal="Publish the standard", status="dormant")
    harness.write_page(title, wiki_text)

    harness.requests.clear()
    for _ in range(2):
        outcome = harness.sync(title)
        assert outcome.action == "conflict"
    assert harness.writes == 0

    topic = harness.forum.get_topic(link.forum_topic_id or 0)
    assert topic.posts[0].raw == forum_text and topic.tags == ("status-active",)
    assert harness.page(title).text.strip() == wiki_text.strip()
    after = harness.link(page_id)
    assert (after.synced_hash, after.synced_text) == (link.synced_hash, link.synced_text)
    with harness.store.session() as session:
        issues = [i for i in open_issues(session) if i.wiki_title == title]
        assert [(i.kind, i.field, i.forum_post_id) for i in issues] == [
            ("conflict", "charter_post", link.forum_post_id)
        ]

    # Once a moderator settles it on the forum, the next sync goes through and resolves it.
    edit_on_forum(harness.forum_sandbox, link.forum_post_id, ("**Goal:** Feed everyone", goal))
    assert harness.sync(title).action == "updated"
    with harness.store.session() as session:
        assert not [i for i in open_issues(session) if i.wiki_title == title]


def test_a_deleted_page_archives_and_a_restored_page_relinks(harness: Harness) -> None:
    title = harness.wiki.title("WF Deleted")
    page_id = created(harness, title)
    link = harness.link(page_id)
    admin = harness.wiki.sandbox.admin_username
    harness.wiki.sandbox.run_maintenance(
        "deleteBatch.php", "--u", admin, "--r", "test", stdin=title
    )

    harness.requests.clear()
    assert harness.sync(title, dry_run=True).action == "archived"
    assert harness.writes == 0
    assert harness.sync(title).action == "archived"

    topic = harness.forum.get_topic(link.forum_topic_id or 0)
    assert topic.closed and topic.archived
    assert topic.posts[0].raw == link.synced_text  # nothing deleted
    assert harness.category(link.forum_category_id or 0).name == title
    archived = harness.link(page_id)
    assert archived.archived_at is not None
    assert harness.sync(title).action == "skipped"  # already archived

    harness.wiki.sandbox.run_maintenance("undelete.php", "--user", admin, title)
    restored_page = harness.page(title)
    assert restored_page.exists and restored_page.pageid is not None

    assert harness.sync(title).action == "restored"
    topic = harness.forum.get_topic(link.forum_topic_id or 0)
    assert not topic.closed and not topic.archived
    relinked = harness.link(restored_page.pageid)
    assert relinked.id == link.id and relinked.archived_at is None
    assert harness.sync(title).action == "unchanged"


def test_a_category_name_taken_by_another_constellation_is_a_conflict(harness: Harness) -> None:
    shared = harness.forum_sandbox.name("shared-")
    first, second = harness.wiki.title("WF First"), harness.wiki.title("WF Second")
    harness.write_page(first, charter_text(forum_category=shared))
    harness.write_page(second, charter_text())
    assert harness.sync(first).action == "created"
    assert harness.sync(second).action == "created"

    # A second page naming the same category, on creation and on a later change.
    third = harness.wiki.title("WF Third")
    harness.write_page(third, charter_text(forum_category=shared))
    harness.requests.clear()
    assert harness.sync(third).action == "conflict"
    harness.write_page(second, charter_text(forum_category=shared))
    assert harness.sync(second).action == "conflict"
    assert harness.writes == 1  # only the refused rename was attempted

    with harness.store.session() as session:
        issues = {(i.wiki_title, i.kind, i.field) for i in open_issues(session)}
    assert {(third, "conflict", "forum_category"), (second, "conflict", "forum_category")} <= issues
    page = harness.page(second)
    assert page.pageid is not None
    link = harness.link(page.pageid)
    assert harness.category(link.forum_category_id or 0).name == second


def test_a_taken_over_topic_keeps_the_forum_words_and_merges_later_changes(
    harness: Harness,
) -> None:
    """The link was lost (a rolled-back run, a rebuilt store) and a person had edited."""
    title = harness.wiki.title("WF Takeover")
    page_id = created(harness, title)
    link = harness.link(page_id)
    assert link.forum_post_id is not None and link.forum_topic_id is not None
    post_id, topic_id = link.forum_post_id, link.forum_topic_id
    edit_on_forum(
        harness.forum_sandbox, post_id, ("**Stewards:** Ana, Ben", "**Stewards:** Ana, Ben, Cleo")
    )
    harness.forum_sandbox.client().update_topic(
        f"/t/-/{topic_id}.json", title=None, **{"tags[]": ["status-active", "people-tag"]}
    )
    with harness.store.session() as session:
        session.delete(session.get(type(link), link.id))
    forum_text = harness.first_post(topic_id)

    assert harness.sync(title).action == "created"  # taken over, not made again
    assert harness.first_post(topic_id) == forum_text  # the person's words kept
    assert "people-tag" in harness.forum.get_topic(topic_id).tags
    with harness.store.session() as session:
        issues = [(i.kind, i.field) for i in open_issues(session) if i.wiki_title == title]
    assert issues == [("conflict", "charter_post")]

    harness.write_page(title, charter_text(beat="weekly"))
    assert harness.sync(title).action == "merged"
    post = harness.first_post(topic_id).splitlines()
    assert "**Stewards:** Ana, Ben, Cleo" in post and "**Beat:** weekly" in post
