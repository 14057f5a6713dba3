"""Dated credit rules on the real wiki and the forum sandbox, on both stores: a version
added in the middle of a period leaves the rows scored before it alone, a late event is
scored by the version in force when it happened, `credits explain` names the version of
each row, and only a moderator's recorded rescore changes a past score."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from community.credits import export, ledger
from community.credits.forum_credit import credit_liked, credit_reply
from community.credits.models import CreditEntry, CreditRescore
from community.credits.rules import load_rules
from community.credits.wiki_credit import update_page_credit
from core.config import CONFIG_PATH_VAR
from core.errors import ConfigError
from tests.community.constellations.sync_support import SyncRig
from tests.community.test_credit_export import run
from tests.community.test_wiki_credit import edit_as, make_account
from tests.conftest import toml

DEFAULTS = Path(ledger.__file__).parent / "default_rules.json"
BODY = "A reply long enough for the forum's minimum, number"


def write_rules(path: Path, *versions: dict[str, Any]) -> None:
    """The built-in rules as version 1, then ``versions``: what an operator edits."""
    data = json.loads(DEFAULTS.read_text())
    data["versions"] = list(versions)
    path.write_text(json.dumps(data))


def rows(rig: SyncRig) -> dict[int, tuple[str, str, str, float, str | None, bool]]:
    """Every ledger row: id -> (kind, account, ref, weight, version, counter-entry)."""
    with rig.store.session() as session:
        found = session.scalars(select(CreditEntry).order_by(CreditEntry.id))
        return {
            r.id: (
                r.kind,
                r.account,
                r.ref,
                round(r.weight, 6),
                r.rules_version,
                bool(r.cancels_key),
            )
            for r in found
        }


def totals(rig: SyncRig) -> dict[str, float]:
    with rig.store.session() as session:
        return {p.name: p.total for p in export.person_credits(session)}


def test_a_version_from_the_middle_of_a_period_leaves_earlier_scores_alone(
    rig: SyncRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.json"
    write_rules(rules)
    rig.settings["credits"]["rules_file"] = str(rules)
    config = tmp_path / "constellate.toml"
    wanted = ("service", "store", "wiki", "forum", "worker", "credits")
    config.write_text(toml({name: rig.settings[name] for name in wanted}))
    monkeypatch.setenv(CONFIG_PATH_VAR, str(config))

    forum, names, wiki = rig.forum, rig.session_forum.name, rig.session_wiki
    asker, replier, liker = names("da"), names("dr"), names("dl")
    for username in (asker, replier, liker):
        forum.create_user(username, username.title(), f"{username}@example.org")
    made = forum.acting_as(asker).create_topic(
        f"Dated rules {names('')}", BODY + " zero.", category_id=None, external_id=names("x")
    )
    writer, later = make_account(wiki, "Dated A"), make_account(wiki, "Dated B")
    title = wiki.title("Dated rules page")

    # Before the change: a reply, a page and its text, all scored by version 1.
    first = forum.acting_as(replier).reply(made.topic_id, f"{BODY} one.")
    edit_as(wiki, writer, title, "one two three four five six seven eight nine ten")
    with rig.store.session() as session:
        credit_reply(session, rig.settings, first.data, at=datetime.now(UTC))
        update_page_credit(session, rig.wiki, rig.settings, title=title)
        session.commit()
    before = rows(rig)
    assert {(kind, version) for kind, _, _, _, version, _ in before.values()} == {
        ("forum_reply", "1"),
        ("page_created", "1"),
        ("wiki_text", "1"),
    }

    # The operator adds version 2 from the next whole second (wiki times are in seconds).
    middle = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(max(0.0, (middle - datetime.now(UTC)).total_seconds()) + 0.05)
    change = {"forum_reply": 5, "wiki_text": 3, "like_received": 4}
    write_rules(rules, {"version": "2", "from": middle.isoformat(), "weights": change})

    second = forum.acting_as(replier).reply(made.topic_id, f"{BODY} two.")
    edit_as(wiki, later, title, "one two three four five six seven eight nine ten b1 b2")
    an_hour_before = middle - timedelta(hours=1)
    with rig.store.session() as session:
        credit_reply(session, rig.settings, second.data, at=datetime.now(UTC))
        update_page_credit(session, rig.wiki, rig.settings, title=title)
        # A like that happened before the change, delivered after it: version 1's weight.
        credit_liked(
            session, rig.settings, first.data, {"username": liker, "id": 99}, at=an_hour_before
        )
        credit_liked(session, rig.settings, second.data, {"username": liker, "id": 99}, at=middle)
        session.commit()

    after = rows(rig)
    assert {i: after[i] for i in before} == before  # untouched: no counter-entry either
    new = sorted((row[0], row[1], row[3], row[4]) for i, row in after.items() if i not in before)
    assert new == sorted(
        [
            ("forum_reply", replier, 5.0, "2"),
            ("wiki_text", later, 0.06, "2"),  # two tokens at 3 per 100
            ("like_received", replier, 1.0, "1"),
            ("like_received", replier, 4.0, "2"),
        ]
    )
    assert not any(counter for *_, counter in after.values())
    assert totals(rig)[replier] == 2 + 5 + 1 + 4

    # `credits explain` names the version that scored each row, and what each weighed.
    done = run("credits", "explain", f"forum:{replier}")
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert sum("rule forum_reply  rules v1" in line for line in lines) == 1
    assert sum("rule forum_reply  rules v2" in line for line in lines) == 1
    assert sum("rule like_received  rules v1" in line for line in lines) == 1
    assert "rules versions:" in lines
    assert any(line.startswith("  v1 from the beginning: ") for line in lines)
    assert any(
        line.startswith(f"  v2 from {middle.isoformat()}: ") and "forum_reply 5" in line
        for line in lines
    )

    # A version dated in the past changes nothing already written...
    spring = middle - timedelta(days=2)
    write_rules(
        rules,
        {"version": "1b", "from": spring.isoformat(), "weights": {"like_received": 6}},
        {"version": "2", "from": middle.isoformat(), "weights": change},
    )
    assert rows(rig) == after
    # ...until a moderator rescores a period, which is recorded.
    start, end = spring - timedelta(days=1), middle - timedelta(minutes=30)
    done = run(
        "credits", "rescore", "--from", f"{start:%Y-%m-%dT%H:%M:%S}",
        "--to", f"{end:%Y-%m-%dT%H:%M:%S}", "--by", "mod_anna",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "by mod_anna" in done.output and "v1 -> v1b: 1 rows, +5 points" in done.output
    with rig.store.session() as session:
        [record] = session.scalars(select(CreditRescore)).all()
        assert (record.requested_by, record.rows) == ("mod_anna", 1)
        assert record.period_from == start and record.period_to == end
        assert record.changes == [{"from": "1", "to": "1b", "rows": 1, "points": 5.0}]
    rescored = rows(rig)
    assert {i: rescored[i] for i in after} == after  # a counter-entry and a row are added
    added = sorted(
        (row[0], row[3], row[4], row[5]) for i, row in rescored.items() if i not in after
    )
    assert added == [("like_received", -1.0, "1", True), ("like_received", 6.0, "1b", False)]
    assert totals(rig)[replier] == 2 + 5 + 6 + 4
    done = run("credits", "rescores")
    assert done.exit_code == 0 and done.output.startswith(f"rescore {record.id} by mod_anna")
    # The same rescore again finds nothing left to change.
    done = run("credits", "rescore", "--from", f"{start:%Y-%m-%d}", "--by", "mod_anna")
    assert done.exit_code == 0 and ", 0 rows" in done.output.splitlines()[0]


def test_versions_are_dated_and_listed_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    settings = {"credits": {"rules_file": str(path)}}
    write_rules(
        path,
        {"version": "3", "from": "2030-02-01", "weights": {"forum_reply": 3}},
        {"version": "2", "from": "2030-01-01", "weights": {"forum_reply": 2}},
    )
    with pytest.raises(ConfigError, match="list versions oldest first"):
        load_rules(settings)
    write_rules(path, {"version": "1", "from": "2030-01-01", "weights": {"forum_reply": 2}})
    with pytest.raises(ConfigError, match="named twice"):
        load_rules(settings)
    write_rules(
        path, {"version": "2", "from": "2030-01-01T06:00:00+02:00", "weights": {"forum_reply": 4}}
    )
    rules = load_rules(settings)
    assert [v.label for v in rules.versions] == ["1", "2"]
    assert rules.at(datetime(2030, 1, 1, 3, 59, tzinfo=UTC)).label == "1"
    assert rules.at(datetime(2030, 1, 1, 4, tzinfo=UTC)).weights["forum_reply"] == 4.0
    assert rules.at(datetime(2030, 1, 1, 4, tzinfo=UTC)).weights["page_created"] == 3.0
    write_rules(path, {"version": "2", "from": "January", "weights": {"forum_reply": 4}})
    with pytest.raises(ConfigError, match=r"\$\.versions\[0\]\.from"):
        load_rules(settings)
