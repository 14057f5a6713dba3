"""A generated forum for the health benchmark, written straight into a migrated SQLite store.

Deterministic (one seeded random generator) and fast: rows are built in memory and written
with ``sqlite3`` ``executemany``; the forum activity table's indexes are dropped for the
load and built again afterwards (sorting once beats updating four B-trees row by row).

The shape, for the default million posts: 100,000 topics over the last 180 days in 50
constellations (one forum category each), written by 10,000 people in 20 organisations
(about 5 % have none), each person with exactly one forum account, so a username is a
person. A few bot accounts post too, and so do Constellate's own accounts and forum users
not yet known to the people table. Posts carry what the metrics must leave out: deleted,
hidden, whispers (post_type 4), small actions (post_type 3) and private messages.
Some topics are never answered, some only by their author or a bot, and a few times sit
exactly on the boundaries the metrics draw (a window's start, 48 hours).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from typing import Any

DAY = 86_400  # seconds
HOUR = 3_600
HISTORY_DAYS = 180
SEED = 20_250_601
ACTIVITY_TABLE = "forum_post_activity"
FIRST_CATEGORY_ID = 101
FIRST_WIKI_PAGE_ID = 5_001
BEATS = ("weekly", "fortnightly", "monthly")
STATUSES = ("active", "forming", "dormant", "sunset")

# Shares of posts and topics (per post unless said otherwise).
NO_REPLY_TOPICS = 0.14
LONELY_TOPICS = 0.05  # replies only by the author or a bot
PRIVATE_TOPICS = 0.005
BOT_TOPICS = 0.01
DELETED = 0.02
HIDDEN = 0.005
WHISPER = 0.01
SMALL_ACTION = 0.01
AUTHOR_REPLIES = 0.22  # replies by the topic's author
BOT_REPLIES = 0.01
OWN_ACCOUNT_REPLIES = 0.003  # replies by Constellate's own accounts
OWN_ACCOUNT_FIRST_REPLIES = 0.03  # of topics: the first reply is a notice from Constellate
UNKNOWN_ACCOUNT_REPLIES = 0.01  # forum users without a people row yet
EXACT_48H_FIRST_REPLIES = 0.002
LATER_THAN_NOW = 0.05  # of the replies that would come after the history's end


@dataclass(frozen=True)
class Shape:
    """How big the generated forum is."""

    posts: int = 1_000_000
    topics: int = 100_000
    people: int = 10_000
    organisations: int = 20
    constellations: int = 50
    bots: int = 4

    @classmethod
    def for_posts(cls, posts: int) -> Shape:
        """The default proportions (10 posts a topic, 100 a person) at another size."""
        if posts < 1_000:
            raise ValueError(f"--posts: at least 1000 posts needed, got {posts}")
        return cls(posts=posts, topics=posts // 10, people=max(200, posts // 100))


@dataclass(frozen=True)
class Constellation:
    wiki_page_id: int
    title: str
    category_id: int
    lead_partner: str
    stewards: tuple[str, ...]
    members: tuple[str, ...]  # usernames of the people who post there


@dataclass
class Forum:
    """What was generated: the counts, and what the benchmark needs to add posts later."""

    shape: Shape
    now: datetime
    own_accounts: tuple[str, ...]
    constellations: list[Constellation] = field(default_factory=list)
    posts: int = 0
    topics: int = 0
    private_topics: int = 0
    posts_after_now: int = 0
    seconds: float = 0.0


def sqlite_time(epoch: int) -> str:
    """A UTC time as ``core.models.UTCDateTime`` stores it in SQLite (no zone, microseconds)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(epoch))


def group_name(organisation: str) -> str:
    """The forum group of a generated organisation ("Partner Organisation 07" -> "partner-07")."""
    return "partner-" + organisation.rsplit(" ", 1)[-1]


def generate(
    database: str, now: datetime, own_accounts: Sequence[str], shape: Shape = Shape()
) -> Forum:
    """Fill the migrated SQLite store at ``database`` (a file path); returns what it made.

    ``now`` is the end of the history (whole seconds, UTC); ``own_accounts`` are
    Constellate's own usernames, which post a little as they do on a real forum.
    """
    started = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 (made-up data, reproducible on purpose)
    now_ts = int(now.timestamp())
    forum = Forum(shape=shape, now=now, own_accounts=tuple(own_accounts))
    organisations = [f"Partner Organisation {n:02d}" for n in range(1, shape.organisations + 1)]
    people = _people(rng, shape, organisations)
    bots = [f"HelperBot{n}" for n in range(1, shape.bots + 1)]
    forum.constellations = _constellations(rng, shape, organisations, people)
    posts = _posts(rng, shape, forum, people, bots, now_ts)
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # a throwaway store: load speed only
        _write_people(connection, people, bots, now_ts)
        _write_constellations(rng, connection, forum.constellations, organisations, now)
        _write_posts(connection, posts)
        connection.commit()
    finally:
        connection.close()
    forum.seconds = time.perf_counter() - started
    return forum


# -- people and constellations -------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    username: str
    organisation: str | None
    weight: float  # how much they post, relative to others (heavy-tailed)


def _people(rng: random.Random, shape: Shape, organisations: list[str]) -> list[_Person]:
    # Organisations of uneven size: the first ones are the big partners.
    org_weights = list(accumulate(1 / (1 + n / 3) for n in range(len(organisations))))
    people = []
    for n in range(1, shape.people + 1):
        organisation = (
            None if rng.random() < 0.05 else rng.choices(organisations, cum_weights=org_weights)[0]
        )
        weight = min(rng.paretovariate(1.16), 200.0)  # roughly 80/20, no single giant
        people.append(_Person(f"member{n:05d}", organisation, weight))
    return people


def _constellations(
    rng: random.Random, shape: Shape, organisations: list[str], people: list[_Person]
) -> list[Constellation]:
    members: list[list[_Person]] = [[] for _ in range(shape.constellations)]
    for person in people:
        homes = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
        for home in rng.sample(range(shape.constellations), homes):
            members[home].append(person)
    made = []
    for n, group in enumerate(members):
        while len(group) < 4:  # small runs: every constellation needs a few voices
            candidate = rng.choice(people)
            if candidate not in group:
                group.append(candidate)
        lead = rng.choice(organisations)
        same_org = [p.username for p in group if p.organisation == lead]
        pool = same_org if len(same_org) >= 2 else [p.username for p in group]
        made.append(
            Constellation(
                wiki_page_id=FIRST_WIKI_PAGE_ID + n,
                title=f"Constellation {n + 1:02d}",
                category_id=FIRST_CATEGORY_ID + n,
                lead_partner=lead,
                stewards=tuple(rng.sample(pool, 2)),
                members=tuple(p.username for p in group),
            )
        )
    return made


# -- posts -----------------------------------------------------------------------------------

# A post row in the order of the table's columns after the two ids: created_at (epoch),
# topic_id, category_id, username, post_number, reply_to_post_number, deleted, post_type,
# hidden, private.
_Row = tuple[int, int, int | None, str, int, int | None, int, int, int, int]


def _reply_counts(rng: random.Random, topics: int, replies: int) -> list[int]:
    """Replies per topic: some none, the rest heavy-tailed, summing to exactly ``replies``."""
    mean = replies / topics / (1 - NO_REPLY_TOPICS)
    counts = [
        0 if rng.random() < NO_REPLY_TOPICS else 1 + int(rng.expovariate(1 / max(mean - 0.5, 0.1)))
        for _ in range(topics)
    ]
    missing = replies - sum(counts)
    while missing:
        at = rng.randrange(topics)
        if missing > 0 and counts[at]:
            counts[at] += 1
            missing -= 1
        elif missing < 0 and counts[at] > 1:
            counts[at] -= 1
            missing += 1
    return counts


def _topic_starts(
    rng: random.Random, homes: Sequence[int], trends: Sequence[float], now_ts: int
) -> list[int]:
    """When each topic starts: spread over the history, more recent in a growing
    constellation (trend > 1) and older in a fading one; a few sit exactly on a window's
    start or the 48-hour line."""
    starts = []
    for home in homes:
        age = rng.random() ** trends[home]  # a share of the history, 0 is now
        starts.append(now_ts - 1 - int(age * HISTORY_DAYS * DAY))
    boundaries = [now_ts - days * DAY for days in (7, 30, 90)] + [now_ts - 48 * HOUR]
    for n, at in enumerate(boundaries * 3):  # three topics on each boundary
        starts[(n * 7919) % len(starts)] = at
    return starts


def _flags(rng: random.Random) -> tuple[int, int, int]:
    """(deleted, post_type, hidden) of one post."""
    roll = rng.random()
    if roll < DELETED:
        return 1, 1, 0
    roll -= DELETED
    if roll < HIDDEN:
        return 0, 1, 1
    roll -= HIDDEN
    if roll < WHISPER:
        return 0, 4, 0
    roll -= WHISPER
    if roll < SMALL_ACTION:
        return 0, 3, 0
    return 0, 1, 0


def _posts(
    rng: random.Random,
    shape: Shape,
    forum: Forum,
    people: list[_Person],
    bots: list[str],
    now_ts: int,
) -> list[_Row]:
    constellations = forum.constellations
    weight_of = {p.username: p.weight for p in people}
    cum_weights = [list(accumulate(weight_of[name] for name in c.members)) for c in constellations]
    # Busy and quiet constellations; some growing (recent topics), some fading.
    category_weights = list(accumulate(rng.uniform(0.2, 2.0) for _ in constellations))
    trends = [rng.choice((0.6, 0.8, 1.0, 1.0, 1.0, 1.3, 1.8)) for _ in constellations]
    everyone = [p.username for p in people]
    unknown = [f"visitor{n:04d}" for n in range(1, max(2, shape.people // 100) + 1)]
    homes = rng.choices(range(len(constellations)), cum_weights=category_weights, k=shape.topics)
    starts = _topic_starts(rng, homes, trends, now_ts)
    counts = _reply_counts(rng, shape.topics, shape.posts - shape.topics)
    rows: list[_Row] = []
    for topic_id, (where, start, replies) in enumerate(zip(homes, starts, counts, strict=True), 1):
        private = int(rng.random() < PRIVATE_TOPICS)
        members, weights = constellations[where].members, cum_weights[where]
        category: int | None = None if private else constellations[where].category_id
        if private:
            forum.private_topics += 1
            author = rng.choice(everyone)
        elif rng.random() < BOT_TOPICS:
            author = rng.choice(bots)
        else:
            author = rng.choices(members, cum_weights=weights)[0]
        first_deleted = 1 if rng.random() < 0.005 else 0
        rows.append((start, topic_id, category, author, 1, None, first_deleted, 1, 0, private))
        lonely = rng.random() < LONELY_TOPICS
        at = start
        for number in range(2, replies + 2):
            at = _reply_time(rng, at, number, now_ts)
            if lonely:
                writer = author if rng.random() < 0.7 else rng.choice(bots)
            elif number == 2 and rng.random() < OWN_ACCOUNT_FIRST_REPLIES:
                writer = rng.choice(forum.own_accounts)  # a notice from the bridge
            else:
                writer = _reply_author(rng, author, members, weights, bots, unknown, forum)
            reply_to = None if rng.random() < 0.5 else rng.randrange(1, number)
            deleted, post_type, hidden = _flags(rng)
            rows.append(
                (at, topic_id, category, writer, number, reply_to, deleted, post_type, hidden,
                 private)
            )  # fmt: skip
        # A few first replies land exactly on the 48-hour line.
        if replies and rng.random() < EXACT_48H_FIRST_REPLIES:
            row = rows[-replies]
            rows[-replies] = (start + 48 * HOUR, *row[1:])
            _keep_increasing(rows, len(rows) - replies, replies)
    forum.topics = shape.topics
    forum.posts = len(rows)
    forum.posts_after_now = sum(1 for row in rows if row[0] >= now_ts)
    return rows


def _reply_time(rng: random.Random, previous: int, number: int, now_ts: int) -> int:
    """Minutes to days after the previous post, the first reply slowest. The history ends
    at ``now``: a reply that would come later is squeezed in before it, except a few
    (a store can hold posts newer than a computation's end), which the metrics must not see.
    """
    median = 3 * HOUR if number == 2 else 5 * HOUR
    at = previous + max(1, int(rng.lognormvariate(math.log(median), 1.6)))
    if at < now_ts or previous >= now_ts or rng.random() < LATER_THAN_NOW:
        return at
    return previous + 1 + int(rng.random() * max(0, now_ts - 1 - previous) / 2)


def _reply_author(
    rng: random.Random,
    author: str,
    members: Sequence[str],
    weights: Sequence[float],
    bots: Sequence[str],
    unknown: Sequence[str],
    forum: Forum,
) -> str:
    roll = rng.random()
    if roll < AUTHOR_REPLIES:
        return author
    roll -= AUTHOR_REPLIES
    if roll < BOT_REPLIES:
        return rng.choice(bots)
    roll -= BOT_REPLIES
    if roll < OWN_ACCOUNT_REPLIES:
        return rng.choice(forum.own_accounts)
    roll -= OWN_ACCOUNT_REPLIES
    if roll < UNKNOWN_ACCOUNT_REPLIES:
        return rng.choice(unknown)
    return rng.choices(members, cum_weights=weights)[0]


def _keep_increasing(rows: list[_Row], first: int, count: int) -> None:
    """After moving a first reply, later replies of the topic must not come before it."""
    for n in range(first + 1, first + count):
        if rows[n][0] <= rows[n - 1][0]:
            rows[n] = (rows[n - 1][0] + 60, *rows[n][1:])


# -- writing ---------------------------------------------------------------------------------


def _write_people(
    connection: sqlite3.Connection, people: list[_Person], bots: list[str], now_ts: int
) -> None:
    joined = sqlite_time(now_ts - 2 * 365 * DAY)
    person_rows: list[tuple[Any, ...]] = []
    account_rows: list[tuple[Any, ...]] = []
    everyone = [(p.username, p.organisation, False) for p in people]
    everyone += [(name, None, True) for name in bots]
    for person_id, (username, organisation, bot) in enumerate(everyone, start=1):
        source = "forum_group" if organisation else None
        opted_out = person_id % 97 == 0  # a few opted out; aggregates still count them
        person_rows.append((person_id, username, organisation, source, opted_out, joined))
        account_rows.append(
            (person_id, "forum", username, person_id, None, str(person_id), bot, joined)
        )
    connection.executemany(
        "INSERT INTO people (id, name, organisation, organisation_source, opted_out,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        person_rows,
    )
    connection.executemany(
        "INSERT INTO accounts (id, platform, username, person_id, email, external_id, is_bot,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        account_rows,
    )


def _write_constellations(
    rng: random.Random,
    connection: sqlite3.Connection,
    constellations: list[Constellation],
    organisations: list[str],
    now: datetime,
) -> None:
    stamp = sqlite_time(int(now.timestamp()) - 30 * DAY)
    connection.executemany(
        "INSERT INTO partners (group_name, name, updated_at) VALUES (?, ?, ?)",
        [(group_name(name), name, stamp) for name in organisations],
    )
    links: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    revid = 100_000
    for c in constellations:
        status = rng.choices(STATUSES, weights=(80, 8, 8, 4))[0]
        started = now.date() - timedelta(days=rng.randrange(200, 900))
        term_end = now.date() + timedelta(days=rng.randrange(-120, 400))  # about 1 in 4 past
        partners = sorted({c.lead_partner, *rng.sample(organisations, rng.randrange(1, 4))})
        charter = {
            "title": c.title,
            "goal": f"The shared goal of {c.title}",
            # Pages name a partner by its full name or its forum group: both must work.
            "lead_partner": c.lead_partner if c.wiki_page_id % 2 else group_name(c.lead_partner),
            "partners": partners,
            "stewards": list(c.stewards),
            "status": status,
            "started": started.isoformat(),
            "term_end": term_end.isoformat(),
            "beat": rng.choice(BEATS),
            "forum_category": f"constellation-{c.category_id}",
        }
        links.append(
            (c.wiki_page_id, c.title, f"constellation-{c.wiki_page_id}", c.category_id,
             f"constellation-{c.category_id}", status, json.dumps(charter), stamp, stamp)
        )  # fmt: skip
        revid = _leadership(rng, changes, c, partners, organisations, started, revid)
    connection.executemany(
        "INSERT INTO page_topic_links (wiki_page_id, wiki_title, external_id,"
        " forum_category_id, category_name, charter_status, charter, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        links,
    )
    connection.executemany(
        "INSERT INTO leadership_changes (wiki_page_id, revid, timestamp, user, lead_partner,"
        " partners, previous_lead, previous_partners) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        changes,
    )


def _leadership(
    rng: random.Random,
    changes: list[tuple[Any, ...]],
    c: Constellation,
    partners: list[str],
    organisations: list[str],
    started: date,
    revid: int,
) -> int:
    """2-4 lead changes from the start, the last naming the charter's lead partner."""
    count = rng.randrange(2, 5)
    leads = [rng.choice(organisations) for _ in range(count - 1)] + [c.lead_partner]
    days = sorted(rng.sample(range(0, 190), count))
    previous: tuple[str, list[str]] | None = None
    for lead, offset in zip(leads, days, strict=True):
        revid += rng.randrange(1, 50)
        when = datetime.combine(started, datetime.min.time(), UTC) + timedelta(days=offset * 3)
        current = partners if lead == c.lead_partner else sorted({lead, *partners[:1]})
        changes.append(
            (c.wiki_page_id, revid, sqlite_time(int(when.timestamp())), c.stewards[0], lead,
             json.dumps(current), previous[0] if previous else None,
             json.dumps(previous[1]) if previous else None)
        )  # fmt: skip
        previous = (lead, current)
    return revid


def _write_posts(connection: sqlite3.Connection, rows: list[_Row]) -> None:
    """Post ids follow time, as the forum's do; indexes are rebuilt after the load, and
    the triggers that log new posts for the incremental health figures are left out of
    it (the history is there before any figure is computed)."""
    rows.sort(key=lambda row: (row[0], row[1], row[4]))
    indexes = connection.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        " AND tbl_name = ? AND sql IS NOT NULL",
        (ACTIVITY_TABLE,),
    ).fetchall()
    for kind, name, _ in indexes:
        connection.execute(f'DROP {kind.upper()} "{name}"')
    connection.executemany(
        f"INSERT INTO {ACTIVITY_TABLE} (id, post_id, topic_id, category_id, username,"  # noqa: S608
        " post_number, reply_to_post_number, created_at, updated_at, deleted, post_type,"
        " hidden, private) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _activity_rows(rows),
    )
    for _, _, sql in indexes:
        connection.execute(sql)


def _activity_rows(rows: Iterable[_Row]) -> Iterable[tuple[Any, ...]]:
    for post_id, (
        at,
        topic,
        category,
        user,
        number,
        reply_to,
        deleted,
        kind,
        hidden,
        private,
    ) in enumerate(rows, start=1):
        stamp = sqlite_time(at)
        yield (post_id, post_id, topic, category, user, number, reply_to, stamp, stamp, deleted,
               kind, hidden, private)  # fmt: skip
