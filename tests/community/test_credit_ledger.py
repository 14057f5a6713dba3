"""The credit ledger and the scoring rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from community.credits import ledger, people
from community.credits.ledger import Contribution
from community.credits.models import Account, CreditEntry, CreditTotal, Person
from community.credits.rules import is_excluded, load_rules
from core.config import DEFAULTS, Settings
from core.errors import ConfigError
from core.migrate import upgrade
from core.store import Store

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def reply(
    post_id: int, account: str = "ana", *, ref: str | None = None, at: datetime = T0
) -> Contribution:
    return Contribution(
        platform="forum",
        account=account,
        kind="forum_reply",
        object=f"post:{post_id}",
        ref=ref or str(post_id),
        weight=2.0,
        occurred_at=at,
        rule="forum_reply",
        scope="category:7",
    )


def settings(**credits: str) -> Settings:
    base: Settings = {section: dict(values) for section, values in DEFAULTS.items()}
    base["wiki"]["username"] = "ConstellateBot@sync"
    base["forum"]["api_username"] = "constellate"
    base["credits"].update(credits)
    return base


def test_a_contribution_is_written_once_with_a_person(store: Store) -> None:
    with store.session() as session:
        assert ledger.credit(session, reply(10)) is True
        assert ledger.credit(session, reply(10)) is False  # a replay writes nothing
        assert ledger.credit(session, reply(11)) is True
    with store.session() as session:
        rows = session.scalars(select(CreditEntry).order_by(CreditEntry.id)).all()
        assert [(r.entry_key, r.weight, r.scope) for r in rows] == [
            ("forum_reply|forum|post:10|10|ana", 2.0, "category:7"),
            ("forum_reply|forum|post:11|11|ana", 2.0, "category:7"),
        ]
        [account] = session.scalars(select(Account)).all()
        assert (account.platform, account.username) == ("forum", "ana")
        assert session.get(Person, account.person_id) is not None


def test_long_keys_fit_and_stay_distinct(store: Store) -> None:
    first = reply(1, ref="x" * 300 + "a")
    second = reply(1, ref="x" * 300 + "b")
    assert len(first.key) == 255 and first.key != second.key
    with store.session() as session:
        assert ledger.credit(session, first) and ledger.credit(session, second)
        assert not ledger.credit(session, first)
    with store.session() as session:
        refs = [e.ref for e in ledger.active_entries(session, object="post:1")]
        assert len(refs) == 2 and refs[0] != refs[1] and all(len(r) <= 128 for r in refs)


def test_cancel_writes_a_counter_entry_and_keeps_the_row(store: Store) -> None:
    later = T0 + timedelta(hours=1)
    with store.session() as session:
        ledger.credit(session, reply(20))
        key = reply(20).key
        assert ledger.cancel(session, key, reason="post deleted", at=later) is True
        assert ledger.cancel(session, key, reason="post deleted", at=later) is False
        assert (
            ledger.cancel(session, "forum_reply|forum|post:404|404|ana", reason="x", at=later)
            is False
        )
    with store.session() as session:
        rows = session.scalars(select(CreditEntry).order_by(CreditEntry.id)).all()
        assert [(r.entry_key, r.weight, r.cancels_key, r.reason) for r in rows] == [
            (key, 2.0, None, None),
            ("cancel|" + key, -2.0, key, "post deleted"),
        ]
        assert rows[1].occurred_at == later and rows[1].scope == "category:7"
        assert ledger.active_entries(session, account="ana") == []
        total = session.scalar(select(func.sum(CreditEntry.weight)))
        assert total == 0


def test_cancel_object_by_kind_and_time(store: Store) -> None:
    like = Contribution(
        platform="forum", account="ana", kind="like_received", object="post:30",
        ref="like:ben", weight=1.0, occurred_at=T0, rule="like_received",
    )  # fmt: skip
    recovered = reply(30, ref="30:recovered:2", at=T0 + timedelta(hours=2))
    with store.session() as session:
        ledger.credit(session, reply(30))
        ledger.credit(session, like)
        assert ledger.cancel_object(
            session, platform="forum", object="post:30", kind="like_received",
            reason="unliked", at=T0,
        ) == 1  # fmt: skip
        assert [e.kind for e in ledger.active_entries(session, object="post:30")] == ["forum_reply"]
        ledger.credit(session, recovered)
        deleted_at = T0 + timedelta(hours=1)
        # a deletion (or its replay) cancels what existed by then, not a later recovery
        for _ in range(2):
            ledger.cancel_object(
                session, platform="forum", object="post:30", reason="post deleted",
                at=deleted_at, up_to=deleted_at,
            )  # fmt: skip
        active = ledger.active_entries(session, platform="forum", object="post:30")
        assert [e.ref for e in active] == ["30:recovered:2"]
        assert ledger.active_entries(session, scope="category:7", kind="forum_reply") == active


def totals(session: Session) -> list[tuple[str, str, str, float, int, int]]:
    rows = session.execute(
        select(Account.platform, Account.username, CreditTotal)
        .join(CreditTotal, CreditTotal.account_id == Account.id)
        .order_by(Account.platform, Account.username, CreditTotal.kind)
    )
    return [(p, name, t.kind, t.points, t.entries, t.cancelled) for p, name, t in rows]


def test_totals_follow_every_entry_and_ignore_replays(store: Store) -> None:
    like = Contribution(
        platform="forum", account="ana", kind="like_received", object="post:40",
        ref="like:ben", weight=0.5, occurred_at=T0, rule="like_received",
    )  # fmt: skip
    with store.session() as session:
        for contribution in (reply(40), reply(41), reply(42, "ben"), like):
            for _ in range(2):  # a replay adds nothing
                ledger.credit(session, contribution)
        for _ in range(2):
            ledger.cancel(session, reply(41).key, reason="post deleted", at=T0)
    with store.session() as session:
        assert totals(session) == [
            ("forum", "ana", "forum_reply", 2.0, 2, 1),
            ("forum", "ana", "like_received", 0.5, 1, 0),
            ("forum", "ben", "forum_reply", 2.0, 1, 0),
        ]
        kept = totals(session)
        ledger.rebuild_totals(session)  # summed from the ledger alone: the same
        assert totals(session) == kept


def test_totals_stay_exact_under_concurrent_writers(store: Store) -> None:
    """Workers crediting one account at once each add their share (PostgreSQL takes the
    row's lock; SQLite has one writer at a time)."""
    writers, each = 4, 15

    def write(worker: int) -> None:
        for n in range(each):
            with store.session() as session:
                ledger.credit(session, reply(1000 * worker + n))

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    with store.session() as session:
        assert totals(session) == [
            ("forum", "ana", "forum_reply", 2.0 * writers * each, writers * each, 0)
        ]


def test_the_migration_sums_an_existing_ledger(store_url: str) -> None:
    upgrade(store_url, "0014")  # a store from before the totals, with a ledger
    earlier = Store(store_url)
    with earlier.session() as session:
        for contribution in (reply(50), reply(51), reply(52, "ben")):
            people.ensure_account(session, "forum", contribution.account)
            session.execute(
                insert(CreditEntry).values(entry_key=contribution.key, **row(contribution))
            )
        session.execute(
            insert(CreditEntry).values(
                entry_key="cancel|" + reply(51).key, cancels_key=reply(51).key,
                **{**row(reply(51)), "weight": -2.0},
            )
        )  # fmt: skip
    earlier.dispose()
    upgrade(store_url)
    store = Store(store_url)
    with store.session() as session:
        assert totals(session) == [
            ("forum", "ana", "forum_reply", 2.0, 2, 1),
            ("forum", "ben", "forum_reply", 2.0, 1, 0),
        ]
    store.dispose()


def row(contribution: Contribution) -> dict[str, object]:
    fields = ("platform", "account", "kind", "object", "ref", "weight", "occurred_at", "rule")
    return {name: getattr(contribution, name) for name in fields}


def test_default_rules_and_exclusions() -> None:
    rules = load_rules(settings())
    [first] = rules.versions
    assert (first.label, first.starts) == ("1", None)
    assert dict(first.weights) == {
        "wiki_text": 1.0, "page_created": 3.0, "forum_reply": 2.0, "accepted_solution": 10.0,
        "like_received": 1.0, "practice_authored": 10.0, "practice_adopted": 15.0,
    }  # fmt: skip
    assert first.options["wiki_text"]["per"] == 100
    assert {k: (b.metric, b.threshold) for k, b in rules.badges.items()} == {
        "practice_sharer": ("practices_adopted_by_others", 1.0),
        "bridge_builder": ("cross_organisation_replies", 5.0),
        "constellation_lead": ("constellations_led", 1.0),
    }
    s = settings()
    assert is_excluded(rules, s, "wiki", "ConstellateBot")
    assert is_excluded(rules, s, "wiki", "constellatebot")
    assert is_excluded(rules, s, "forum", "Constellate")
    assert is_excluded(rules, s, "forum", "system")
    assert is_excluded(rules, s, "forum", "ana", is_bot=True)
    assert not is_excluded(rules, s, "forum", "ana")
    assert not is_excluded(rules, s, "forum", "ConstellateBot")  # only the wiki's bot name


def test_a_rules_file_replaces_the_defaults(tmp_path: Path) -> None:
    data = json.loads((Path(ledger.__file__).parent / "default_rules.json").read_text())
    data["weights"]["forum_reply"] = 4
    data["options"] = {"wiki_text": {"per": 50}}
    data["exclude_accounts"] = ["Import_Robot"]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data))
    rules = load_rules(settings(rules_file=str(path)))
    version = rules.at(T0)
    assert version.weights["forum_reply"] == 4.0 and version.options["wiki_text"]["per"] == 50
    assert is_excluded(rules, settings(), "wiki", "Import Robot")


def test_an_invalid_rules_file_lists_every_error(tmp_path: Path) -> None:
    data = json.loads((Path(ledger.__file__).parent / "default_rules.json").read_text())
    data["weights"]["forum_reply"] = -1
    del data["weights"]["like_received"]
    data["badges"]["bridge_builder"]["badge_type"] = 7
    data["surprise"] = True
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        load_rules(settings(rules_file=str(path)))
    message = str(caught.value)
    assert str(path) in message and "4 problem(s)" in message
    for where in ("$.weights.forum_reply", "$.weights", "$.badges.bridge_builder.badge_type", "$:"):
        assert f"  {where}" in message, where
    assert "'like_received' is a required property" in message
    assert "'surprise' was unexpected" in message

    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_rules(settings(rules_file=str(path)))
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(settings(rules_file=str(tmp_path / "missing.json")))
