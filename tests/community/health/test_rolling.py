"""The incremental figures (``Rolling``) against the full recompute (``compute``): the same
scope, posts arriving in batches and time moving on, must give the same figures."""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community.health.compute import compute
from community.health.conversation import Adoption, History, LeadChange, PageEdit, RawPost
from community.health.inputs import ScopeInputs, ScopeSpec
from community.health.rolling import Rolling
from core.config import DEFAULTS
from tests.community.health.conversations import at, people, person

USERS = ("ana", "ben", "cleo", "dev", "eli", "fay", "system")  # system is never counted
ORGANISATIONS = {"ana": "North", "ben": "North", "cleo": "South", "dev": "West", "eli": ""}
CENTRE = frozenset({person("ana"), person("cleo")})
SPEC = ScopeSpec(
    "constellation:7",
    "constellation",
    "Seed Swaps",
    3,
    charter={"status": "active", "lead_partner": "North", "beat": "monthly"},
    page_id=7,
)
HEALTH = copy.deepcopy(DEFAULTS)


def conversation(rng: random.Random, size: int) -> list[RawPost]:
    """Topics and replies over 200 days (some after the first ``now``), with posts the
    figures leave out: deleted, hidden, whispers, private, the system's."""
    rows: list[RawPost] = []
    numbers: dict[int, int] = {}
    for post_id in range(1, size + 1):
        if not numbers or rng.random() < 0.25:
            topic = len(numbers) + 1
            numbers[topic] = 0
        else:
            topic = rng.choice(list(numbers))
        numbers[topic] += 1
        number = numbers[topic]
        flag = rng.random()
        rows.append(
            RawPost(
                post_id=post_id,
                topic_id=topic,
                post_number=number,
                reply_to_post_number=rng.choice([None, None, rng.randint(1, number)]),
                username=rng.choice(USERS),
                # Whole minutes apart at most: ties in time happen.
                created_at=at(rng.uniform(0, 200)).replace(second=0, microsecond=0),
                deleted=flag < 0.03,
                hidden=0.03 <= flag < 0.05,
                private=0.05 <= flag < 0.06,
                post_type=4 if 0.06 <= flag < 0.08 else 1,
            )
        )
    return rows


def inputs(rows: list[RawPost], rng: random.Random) -> ScopeInputs:
    who = people(ORGANISATIONS)
    counted = sorted((row for row in rows if row.username != "system"), key=lambda r: r.created_at)
    histories = {}
    for username in USERS[:-1]:
        own = [row for row in counted if row.username == username]
        if own and rng.random() < 0.8:
            second = own[1].created_at if len(own) > 1 else None
            histories[person(username)] = History(own[0].post_id, own[0].created_at, second)
    return ScopeInputs(
        rows=rows,
        people=who,
        histories=histories,
        centre=CENTRE,
        adoptions=[Adoption("South", "North", at(150)), Adoption("West", None, at(190))],
        lead_changes=[LeadChange("North", at(20)), LeadChange("South", at(170))],
        pages=[PageEdit("Seed Swaps", at(60)), PageEdit("Tool Library", None)],
        term_end=at(180).date(),
        lead_group="partner-north",
    )


def test_a_quiet_scope_has_the_figures_of_the_full_recompute() -> None:
    rng = random.Random(1)
    data = inputs(conversation(rng, 60), rng)
    now = at(120)
    assert Rolling(SPEC, data, HEALTH["health"], now).health(now) == compute(
        SPEC, data, HEALTH, now=now
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(1, 160),
    batches=st.integers(1, 5),
    beat=st.sampled_from(["weekly", "fortnightly", "monthly"]),
)
def test_posts_in_batches_and_a_moving_clock_give_the_full_recompute(
    seed: int, size: int, batches: int, beat: str
) -> None:
    """Posts arrive out of order (late ones too), some are written after ``now`` and are
    seen only once it passes them, replies come before what they answer: after each batch
    and move of the clock every figure of every window equals the full recompute's."""
    rng = random.Random(seed)
    rows = conversation(rng, size)
    rng.shuffle(rows)
    spec = replace(SPEC, charter={**(SPEC.charter or {}), "beat": beat})
    cut = rng.randint(0, len(rows))
    first, rest = rows[:cut], rows[cut:]
    every = inputs(rows, rng)
    now = at(rng.uniform(90, 150))
    rolling = Rolling(spec, replace(every, rows=first), HEALTH["health"], now)
    known = list(first)
    for batch in range(batches):
        if batch:
            now += timedelta(hours=rng.choice([0, 1, 30, 24 * 20]), seconds=rng.randint(0, 90))
            part = rest[: rng.randint(0, len(rest))]
            rest = rest[len(part) :]
            rolling.add(part)
            known += part
            # As the store-facing side does: the histories of the new posts' authors and
            # of the possible newcomers are read again.
            wanted = rolling.newcomer_candidates() | {person(row.username) for row in part}
            rolling.set_histories({key: every.histories.get(key) for key in wanted})
        expected = compute(spec, replace(every, rows=known), HEALTH, now=now)
        assert rolling.health(now) == expected


def test_a_post_seen_again_counts_once() -> None:
    rng = random.Random(3)
    rows = conversation(rng, 80)
    data = inputs(rows, rng)
    now = at(130)
    rolling = Rolling(SPEC, replace(data, rows=rows[:40]), HEALTH["health"], now)
    rolling.add(rows[30:] + rows[30:50])  # known ones, and some twice in one batch
    assert rolling.health(now) == compute(SPEC, data, HEALTH, now=now)


def test_the_clock_does_not_go_back() -> None:
    rng = random.Random(4)
    rolling = Rolling(SPEC, inputs(conversation(rng, 10), rng), HEALTH["health"], at(100))
    with pytest.raises(ValueError, match="earlier"):
        rolling.health(at(99))
