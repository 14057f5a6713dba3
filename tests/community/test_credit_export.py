"""`constellate credits export|explain|leaderboard` and `constellate people ...`, run as
commands against a migrated store with real ledger rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from community.credits import ledger, people
from community.credits.ledger import Contribution
from core.config import CONFIG_PATH_VAR
from service.main import main
from tests.community.constellations.sync_support import SyncRig
from tests.conftest import SessionForum, SessionWiki, toml

T0 = datetime(2030, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def rig(
    wiki: SessionWiki, forum: SessionForum, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SyncRig:
    rig = SyncRig(wiki, forum, tmp_path)
    wanted = ("service", "store", "wiki", "forum", "worker")
    config = tmp_path / "constellate.toml"
    config.write_text(toml({name: rig.settings[name] for name in wanted}))
    monkeypatch.setenv(CONFIG_PATH_VAR, str(config))
    return rig


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    return result


def contribution(platform: str, account: str, kind: str, ref: str, weight: float) -> Contribution:
    return Contribution(
        platform=platform, account=account, kind=kind, object=f"post:{ref}", ref=ref,
        weight=weight, occurred_at=T0 + timedelta(minutes=int(ref)), rule=kind,
    )  # fmt: skip


def fill_ledger(rig: SyncRig) -> None:
    """ana (wiki Ana + forum ana, Harbour), ben, and cara who opted out."""
    with rig.store.session() as session:
        for c in (
            contribution("forum", "ana", "forum_reply", "1", 2),
            contribution("wiki", "Ana", "wiki_text", "2", 3.5),
            contribution("forum", "ben", "forum_reply", "3", 2),
            contribution("forum", "ben", "accepted_solution", "4", 10),
            contribution("forum", "cara", "forum_reply", "5", 2),
            contribution("forum", "cara", "like_received", "6", 1),
        ):
            ledger.credit(session, c)
        deleted = contribution("forum", "ben", "forum_reply", "7", 2)
        ledger.credit(session, deleted)
        ledger.cancel(session, deleted.key, reason="post deleted", at=T0 + timedelta(hours=1))
        people.link(session, ("Ana", "ana"), "mod")
        ana = people.find_person(session, "forum:ana")
        people.set_organisation(session, ana, "Harbour Food Bank", "mod")
        people.set_opt_out(session, people.find_person(session, "cara"), True)


def test_export_csv_and_json_leave_opted_out_people_in_the_aggregate(
    rig: SyncRig, tmp_path: Path
) -> None:
    fill_ledger(rig)
    done = run("credits", "export", "--format", "csv")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.output)))
    assert [(r["name"], r["accounts"], r["organisation"], r["total"]) for r in rows] == [
        ("ben", "forum:ben", "", "12"),
        ("ana", "forum:ana wiki:Ana", "Harbour Food Bank", "5.5"),
        ("opted-out contributors: 1 people, total 3", "", "", "3"),
    ]
    assert (rows[0]["forum_reply"], rows[0]["accepted_solution"]) == ("2", "10")
    assert (rows[1]["forum_reply"], rows[1]["wiki_text"]) == ("2", "3.5")
    assert (rows[2]["forum_reply"], rows[2]["like_received"]) == ("2", "1")
    assert "cara" not in done.output

    target = tmp_path / "credits.json"
    done = run("credits", "export", "--format", "json", "--output", str(target))
    assert done.exit_code == 0, done.output
    document = json.loads(target.read_text())
    assert [(p["name"], p["total"]) for p in document["people"]] == [("ben", 12.0), ("ana", 5.5)]
    assert document["people"][1]["accounts"] == ["forum:ana", "wiki:Ana"]
    assert document["opted_out"]["people"] == 1 and document["opted_out"]["total"] == 3.0
    assert "cara" not in target.read_text()

    done = run("credits", "export", "--format", "xml")
    assert done.exit_code == 2 and "xml" in done.output


def test_explain_and_leaderboard(rig: SyncRig) -> None:
    fill_ledger(rig)
    done = run("credits", "explain", "ben")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].startswith("person ") and lines[0].endswith("(ben): forum:ben")
    assert len(lines) == 1 + 4 + 1
    assert "forum:ben  forum_reply  post:7  ref 7  +2  rule forum_reply" in lines[3]
    assert lines[4].endswith("-2  rule forum_reply  cancels an earlier entry: post deleted")
    assert lines[-1] == "total: 12"

    # An opted-out person can still see their own score.
    done = run("credits", "explain", "forum:cara")
    assert done.exit_code == 0, done.output
    assert "opted out" in done.output and done.output.endswith("total: 3\n")
    done = run("credits", "explain", "nobody-at-all")
    assert done.exit_code == 1 and "no account with that username" in done.output

    done = run("credits", "leaderboard", "--limit", "5")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == ["  1. ben: 12", "  2. ana (Harbour Food Bank): 5.5"]


def test_people_commands(rig: SyncRig) -> None:
    fill_ledger(rig)
    done = run("people", "affiliate", "ben", "North Pantry", "--by", "mod")
    assert done.exit_code == 0, done.output
    done = run("people", "opt-out", "cara", "--undo")
    assert done.exit_code == 0 and done.output.endswith("listed again\n")
    done = run("credits", "leaderboard")
    assert done.output.splitlines() == [
        "  1. ben (North Pantry): 12",
        "  2. ana (Harbour Food Bank): 5.5",
        "  3. cara: 3",
    ]
    done = run("people", "unlink", "wiki", "Ana", "--by", "mod")
    assert done.exit_code == 0, done.output
    done = run("people", "reject", "--wiki", "Ana", "--forum", "ana", "--by", "mod")
    assert done.exit_code == 0 and done.output == "rejected: wiki:Ana / forum:ana\n"
    done = run("people", "link", "--wiki", "Ana", "--forum", "ben", "--by", "mod")
    assert done.exit_code == 0, done.output
    done = run("people", "list")
    assert done.exit_code == 0, done.output
    assert any(
        line.endswith("[North Pantry]: forum:ben, wiki:Ana") for line in done.output.splitlines()
    )
    done = run("people", "link", "--wiki", "Ana")
    assert done.exit_code == 2 and "--wiki and --forum go together" in done.output
    done = run("people", "link", "7", "--wiki", "Ana", "--forum", "ben")
    assert done.exit_code == 2
    done = run("people", "unlink", "forum", "nobody")
    assert done.exit_code == 1 and "forum:nobody: no such account" in done.output
    done = run("people", "suggest")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("new suggestions: ")
