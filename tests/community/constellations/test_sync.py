"""Constellation sync end to end against the real wiki and the forum sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from community.bot_section import BEGIN, END
from community.constellations.cli import sync as sync_command
from community.constellations.forum_mirror import forum_link
from community.constellations.leadership import timeline
from community.constellations.models import PageTopicLink, open_issues
from community.constellations.sync import sync_constellations
from core.config import CONFIG_PATH_VAR
from tests.community.constellations.sync_support import SyncRig, charter_text
from tests.conftest import SessionForum, SessionWiki


@pytest.fixture
def rig(wiki: SessionWiki, forum: SessionForum, tmp_path: Path) -> Iterator[SyncRig]:
    made = SyncRig(wiki, forum, tmp_path)
    yield made
    made.store.dispose()


def make_page(rig: SyncRig, prefix: str, **fields: str) -> tuple[str, str]:
    title, category = rig.session_wiki.title(prefix), rig.session_forum.name("cat-")
    rig.session_wiki.human().edit(
        title, charter_text(category, **fields), summary="test", mode="create"
    )
    return title, category


def test_a_full_sync_creates_everything_and_a_resync_writes_nothing(rig: SyncRig) -> None:
    pages = [make_page(rig, "Sync full"), make_page(rig, "Sync full")]
    titles = [title for title, _ in pages]

    summary = sync_constellations(
        rig.store, rig.settings, full=True, wiki=rig.wiki, forum=rig.forum
    )

    assert summary.created >= 2
    for title in titles:
        assert f"created: {title}" in " | ".join(summary.lines)
    read = rig.wiki.read_pages(titles)
    categories = {c.id: c for c in rig.forum.categories()}
    with rig.store.session() as session:
        for (title, _category), page in zip(pages, read.values(), strict=True):
            assert page.pageid is not None
            link = forum_link(session, page.pageid)
            assert link is not None and link.wiki_title == title
            assert link.forum_category_id in categories
            assert link.forum_topic_id is not None and link.forum_post_id is not None
            topic = rig.forum.get_topic(link.forum_topic_id)
            assert topic.category_id == link.forum_category_id and not topic.archived
            raw = rig.forum.get_post(link.forum_post_id).raw or ""
            assert "Share one open data standard" in raw
            # Forum -> wiki: the bot section, with the human text untouched.
            assert BEGIN in page.text and END in page.text
            assert "Human text about the constellation." in page.text
            assert [c.lead_partner for c in timeline(session, page.pageid)] == ["Harbour Food Bank"]
    assert summary.wiki_sections_written >= 2 and summary.leadership_changes >= 2

    before = rig.writes()
    again = sync_constellations(
        rig.store, rig.settings, titles=titles, wiki=rig.wiki, forum=rig.forum
    )
    assert rig.writes() == before  # not one write request to either platform
    assert (again.unchanged, again.created, again.updated, again.lines) == (2, 0, 0, [])


def test_a_changed_page_updates_its_topic(rig: SyncRig) -> None:
    title, _ = make_page(rig, "Sync change")
    sync_constellations(rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum)
    human = rig.session_wiki.human()
    page = human.read_pages([title])[title]
    human.edit(
        title,
        page.text.replace("Harbour Food Bank\n", "North Pantry\n", 1),
        summary="test",
        base=page,
    )

    summary = sync_constellations(rig.store, rig.settings, titles=[title])

    assert summary.updated == 1 and summary.leadership_changes == 1
    assert summary.lines == [line for line in summary.lines if title in line]
    with rig.store.session() as session:
        pageid = rig.wiki.read_pages([title])[title].pageid
        assert pageid is not None
        leads = [c.lead_partner for c in timeline(session, pageid)]
    assert leads == ["Harbour Food Bank", "North Pantry"]


def test_a_malformed_page_is_reported_and_skipped_until_fixed(rig: SyncRig) -> None:
    title, _ = make_page(rig, "Sync malformed", status="sleeping")

    summary = sync_constellations(
        rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum
    )

    assert summary.malformed == 1 and summary.created == 0
    assert len(summary.lines) == 1 and title in summary.lines[0] and "status" in summary.lines[0]
    assert rig.forum_counts.writes() == 0  # nothing half-synced
    with rig.store.session() as session:
        issues = [i for i in open_issues(session) if i.wiki_title == title]
        assert [(i.kind, i.field) for i in issues] == [("malformed", "status")]
        assert session.scalars(select(PageTopicLink)).all() == []

    human = rig.session_wiki.human()
    page = human.read_pages([title])[title]
    human.edit(title, page.text.replace("sleeping", "dormant"), summary="test", base=page)
    fixed = sync_constellations(rig.store, rig.settings, titles=[title])
    assert (fixed.malformed, fixed.created) == (0, 1)
    with rig.store.session() as session:
        assert [i for i in open_issues(session) if i.wiki_title == title] == []


def test_a_deleted_page_archives_its_forum_side_and_keeps_it(rig: SyncRig) -> None:
    title, _ = make_page(rig, "Sync deleted")
    sync_constellations(rig.store, rig.settings, titles=[title])
    sandbox = rig.session_wiki.sandbox
    sandbox.run_maintenance("deleteBatch.php", "--u", sandbox.admin_username, stdin=title)

    summary = sync_constellations(rig.store, rig.settings, full=True)

    assert summary.archived >= 1 and any(title in line for line in summary.lines)
    with rig.store.session() as session:
        link = session.scalars(select(PageTopicLink).where(PageTopicLink.wiki_title == title)).one()
        assert link.archived_at is not None and link.forum_topic_id is not None
        topic_id = link.forum_topic_id
    topic = rig.forum.get_topic(topic_id)
    assert topic.closed and topic.archived  # kept, never deleted
    again = sync_constellations(
        rig.store, rig.settings, titles=[title], wiki=rig.wiki, forum=rig.forum
    )
    assert again.archived == 0 and rig.writes() == (0, 0)


def test_a_dry_run_writes_nothing_anywhere(rig: SyncRig) -> None:
    title, _ = make_page(rig, "Sync dry")

    summary = sync_constellations(
        rig.store, rig.settings, titles=[title], dry_run=True, wiki=rig.wiki, forum=rig.forum
    )

    assert summary.created == 1
    assert rig.writes() == (0, 0)
    with rig.store.session() as session:
        assert session.scalars(select(PageTopicLink)).all() == []


def test_the_sync_command_prints_the_summary_and_issues(
    rig: SyncRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, _ = make_page(rig, "Sync cli")
    bad, _ = make_page(rig, "Sync cli bad", status="sleeping")
    config = tmp_path / "constellate.toml"
    lines = []
    for name in ("service", "store", "wiki", "forum"):
        lines.append(f"[{name}]")
        for key, value in rig.settings[name].items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                lines.append(f"{key} = {value!r}".replace("'", '"'))
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(CONFIG_PATH_VAR, str(config))
    runner = CliRunner()

    done = runner.invoke(sync_command, ["--constellation", good, "--constellation", bad])

    assert done.exit_code == 0, done.output
    output = done.output.splitlines()
    assert output[0].startswith("sync: 1 created") and "1 malformed" in output[0]
    assert any(line.startswith(f"  created: {good}") for line in output)
    assert any(bad in line and "status" in line for line in output if line.startswith("  "))
    assert "open issues (1):" in output

    dry = runner.invoke(sync_command, ["--dry-run", "--constellation", good])
    assert dry.exit_code == 0 and dry.output.startswith(
        "dry run, nothing written; sync: 1 unchanged"
    )
    assert runner.invoke(sync_command, []).exit_code == 2  # neither pages nor --full

    monkeypatch.setenv(CONFIG_PATH_VAR, str(tmp_path / "missing.toml"))
    failed = runner.invoke(sync_command, ["--full"])
    assert failed.exit_code == 1 and failed.output.startswith("Error: configuration:")


def test_a_page_the_forum_refuses_is_reported_and_the_others_still_sync(rig: SyncRig) -> None:
    refused, _ = make_page(rig, "Sync refused")
    fine, _ = make_page(rig, "Sync fine")
    # A person already used the charter topic's title: Discourse refuses the duplicate.
    people = rig.session_forum.client("system")
    people.create_post(
        "A person's topic that happens to carry the charter's title.",
        category_id=1,
        title=f"Charter of the {refused} constellation",
    )
    summary = sync_constellations(
        rig.store, rig.settings, titles=[refused, fine], wiki=rig.wiki, forum=rig.forum
    )
    assert summary.created == 1 and summary.skipped == 1
    assert any(line.startswith(f"error: {refused}: InvalidRequest") for line in summary.lines)
    with rig.store.session() as session:
        issues = [(i.kind, i.wiki_title) for i in open_issues(session)]
    assert ("error", refused) in issues
    assert ("error", fine) not in issues


def test_an_issue_closes_when_its_page_is_fixed_under_a_new_title(rig: SyncRig) -> None:
    title, _ = make_page(rig, "Sync moved malformed", status="sleeping")
    assert sync_constellations(rig.store, rig.settings, titles=[title]).malformed == 1
    new_title = f"{title} renamed"
    admin = rig.session_wiki.sandbox.admin_username
    rig.session_wiki.sandbox.run_maintenance(
        "moveBatch.php", "--u", admin, stdin=f"{title}|{new_title}\n"
    )
    human = rig.session_wiki.human()
    page = human.read_pages([new_title])[new_title]
    human.edit(new_title, page.text.replace("sleeping", "active"), summary="fix", base=page)
    assert sync_constellations(rig.store, rig.settings, titles=[new_title]).created == 1
    with rig.store.session() as session:
        assert [i.wiki_title for i in open_issues(session) if title in i.wiki_title] == []
