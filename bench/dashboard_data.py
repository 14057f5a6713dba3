"""The store the dashboard benchmark renders: the health benchmark's generated forum
(1,000,000 posts by default) and everything the dashboard's pages read beside it.

Made once and kept in a cache folder (the first build takes minutes, mostly the health
recomputes); a later run finds it by its version and size and only migrates it to the
current schema. The file is built under a temporary name and renamed when complete, so
an interrupted build is never reused.

What is written, and how:
- the forum, its people, organisations, constellations and leadership changes:
  ``bench.health_data.generate``;
- health snapshots and alerts: ``recompute_everything`` (the full health run, alerts
  fanned out to the webhook subscriptions) at HEALTH_RUNS moments over the last
  HISTORY_DAYS days, each day in between holding the last run's figures, as a daily run
  that found nothing new would;
- practices, their topics and adoptions, suggestions to promote: below;
- wiki accounts, link suggestions and the credit ledger: ``bench.dashboard_credit``;
- inbox events (``bench.dashboard_events``), outgoing messages and attempts, automation
  runs, sync runs and issues, refused deliveries, cursors: ``bench.dashboard_logs``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from bench.dashboard_credit import write_people_credit
from bench.dashboard_logs import add_subscriptions, write_logs
from bench.health import API_USERNAME, NOW, WIKI_USERNAME, bench_settings
from bench.health_data import Shape, generate, sqlite_time
from community.constellations.models import PageTopicLink
from community.credits.models import CreditEntry
from community.health.models import HealthAlert, HealthSnapshot
from community.health.runs import recompute_everything
from community.partners.models import Partner
from community.practices.models import (
    Practice,
    PracticeAdoption,
    PracticeSuggestion,
    PracticeTagName,
    PracticeTopic,
)
from core.config import Settings
from core.migrate import upgrade
from core.store import Store

DATA_VERSION = 2  # raise when what is generated changes: the cached store is rebuilt
HISTORY_DAYS = 90
HEALTH_RUNS = 7  # full recomputes, evenly spread over HISTORY_DAYS (the last one at NOW)
PRACTICES = 300
SUGGESTIONS = 2_000
PRACTICE_WORDS = (
    ("Rotating", "Shared", "Open", "Weekly", "Peer", "Paired", "Quiet", "Public", "Local", "Joint"),
    (
        "meeting chairs", "tool library", "field notes", "flood drills", "onboarding walks",
        "budget review", "skills swap", "welcome calls", "site visits", "grant writing",
        "volunteer rota", "data diary", "story circle", "learning log", "mentor pairs",
        "newsletter", "risk register", "repair cafe", "reading group", "office hours",
        "demo day", "asset map", "retrospective", "charter review", "seed fund",
        "translation desk", "care calendar", "walking audit", "open ledger", "hack night",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class BuiltStore:
    url: str
    path: Path
    reused: bool
    seconds: float
    counts: dict[str, int]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "constellate" / "bench-dashboard"


def settings() -> Settings:
    """The health benchmark's settings (our own accounts named)."""
    return bench_settings()


def build(
    folder: Path, shape: Shape, *, rebuild: bool = False, echo: Callable[[str], None] = print
) -> BuiltStore:
    """The cached store for ``shape`` in ``folder``, made first if missing (or asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"dashboard-v{DATA_VERSION}-{shape.posts}"
    path, manifest = folder / f"{name}.db", folder / f"{name}.json"
    started = time.perf_counter()
    if path.exists() and manifest.exists() and not rebuild:
        upgrade(f"sqlite:///{path}")  # a newer schema: migrations run on the kept data
        counts = json.loads(manifest.read_text())["counts"]
        return BuiltStore(f"sqlite:///{path}", path, True, time.perf_counter() - started, counts)
    partial = folder / f"{name}.partial.db"
    for stale in (path, manifest, partial, *folder.glob(f"{name}.partial.db-*")):
        stale.unlink(missing_ok=True)
    counts = _make(partial, shape, echo)
    partial.rename(path)
    manifest.write_text(json.dumps({"version": DATA_VERSION, "counts": counts}, indent=2))
    return BuiltStore(f"sqlite:///{path}", path, False, time.perf_counter() - started, counts)


def _make(database: Path, shape: Shape, echo: Callable[[str], None]) -> dict[str, int]:
    url = f"sqlite:///{database}"
    upgrade(url)
    config = settings()
    step = _stepper(echo)
    forum = generate(str(database), NOW, (API_USERNAME, WIKI_USERNAME), shape)
    step(f"forum: {forum.posts:,} posts in {forum.topics:,} topics")
    store = Store(url)
    try:
        with store.engine.begin() as connection:
            _charter_posts(connection)
            subscriptions = add_subscriptions(connection, NOW)
            practices = _practices(connection, NOW)
        step(f"practices: {practices:,}")
        snapshots, alerts = _health_history(store, config)
        step(f"health: {HEALTH_RUNS} full recomputes, {snapshots:,} snapshots, {alerts} alerts")
        with store.engine.begin() as connection:
            credit = write_people_credit(connection, config, NOW, sqlite_time(int(NOW.timestamp())))
        step(f"people: {credit.wiki_accounts:,} wiki accounts, {credit.ledger_rows:,} ledger rows")
        with store.engine.begin() as connection:
            logs = write_logs(connection, subscriptions, NOW)
        step(f"logs: {logs.inbox:,} inbox events, {logs.messages:,} outgoing messages")
        with store.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        store.dispose()
    return {
        "posts": forum.posts,
        "topics": forum.topics,
        "people": shape.people,
        "constellations": shape.constellations,
        "practices": practices,
        "health_snapshots": snapshots,
        "health_alerts": alerts,
        **{f"credit_{key}": value for key, value in asdict(credit).items()},
        **{f"log_{key}": value for key, value in asdict(logs).items()},
    }


def _stepper(echo: Callable[[str], None]) -> Callable[[str], None]:
    last = [time.perf_counter()]

    def step(what: str) -> None:
        now = time.perf_counter()
        echo(f"  built {what} ({now - last[0]:.0f} s)")
        last[0] = now

    return step


def _charter_posts(connection: Connection) -> None:
    """What the sync leaves on each link: its charter topic and the text last written."""
    links = connection.execute(
        select(PageTopicLink.id, PageTopicLink.wiki_page_id, PageTopicLink.charter)
    ).all()
    for link_id, page_id, charter in links:
        body = "\n\n".join(f"**{key}**: {value}" for key, value in (charter or {}).items())
        connection.execute(
            update(PageTopicLink)
            .where(PageTopicLink.id == link_id)
            .values(
                forum_topic_id=80_000 + page_id,
                forum_post_id=900_000 + page_id,
                synced_text=body,
                rendered_text=body,
                synced_hash=f"{page_id:064x}",
            )
        )


# -- health ------------------------------------------------------------------------------


def _health_history(store: Store, config: Settings) -> tuple[int, int]:
    """Full runs (alerts raised and resolved as they go) oldest first, then every day in
    between filled with the figures of the run before it."""
    last = HEALTH_RUNS - 1
    for run in range(HEALTH_RUNS):
        back = round((HISTORY_DAYS - 1) * (last - run) / last)
        with store.session() as session:
            recompute_everything(session, config, now=NOW - timedelta(days=back))
    with store.engine.begin() as connection:
        computed = connection.execute(
            select(
                HealthSnapshot.scope,
                HealthSnapshot.label,
                HealthSnapshot.window_days,
                HealthSnapshot.day,
                HealthSnapshot.computed_at,
                HealthSnapshot.values,
            ).order_by(HealthSnapshot.day)
        ).all()
        latest: dict[tuple[str, int], Any] = {}
        by_day: dict[date, list[Any]] = {}
        for row in computed:
            by_day.setdefault(row.day, []).append(row)
        rows = []
        first = NOW.date() - timedelta(days=HISTORY_DAYS - 1)
        for offset in range(HISTORY_DAYS):
            day = first + timedelta(days=offset)
            for row in by_day.get(day, []):
                latest[(row.scope, row.window_days)] = row
            if day in by_day:
                continue
            for row in latest.values():
                stamp = datetime.combine(day, row.computed_at.time(), row.computed_at.tzinfo)
                rows.append({**row._asdict(), "day": day, "computed_at": stamp})
        if rows:
            connection.execute(insert(HealthSnapshot), rows)
        snapshots = connection.scalar(select(func.count()).select_from(HealthSnapshot)) or 0
        alerts = connection.scalar(select(func.count()).select_from(HealthAlert)) or 0
    return int(snapshots), int(alerts)


# -- practices ---------------------------------------------------------------------------


def _practices(connection: Connection, now: datetime) -> int:
    """The registry, where each practice is discussed, who adopted it, the suggestions,
    and the ledger rows for authoring and adoption by others."""
    rng = random.Random(11)  # noqa: S311 (made-up data, reproducible on purpose)
    organisations = list(connection.scalars(select(Partner.name)))
    constellations = list(connection.scalars(select(PageTopicLink.wiki_title)))
    practices, tags, topics, adoptions, credit = [], [], [], [], []
    for n in range(PRACTICES):
        adjective, noun = PRACTICE_WORDS[0][n % 10], PRACTICE_WORDS[1][n // 10 % 30]
        title, page_id = f"{adjective} {noun}", 20_001 + n
        tag = title.lower().replace(" ", "-")
        origin = rng.choice(organisations)
        author = f"Member{rng.randrange(1, 10_000, 4):05d}"
        updated = now - timedelta(days=rng.randrange(1, 400))
        practices.append(
            {
                "page_id": page_id,
                "title": title,
                "tag": tag,
                "summary": f"How {origin} runs {noun}: what worked, what to avoid, who to ask.",
                "originating_organisation": origin,
                "related_constellations": rng.sample(constellations, rng.randrange(1, 4)),
                "aliases": [noun] if n % 7 == 0 else [],
                "revid": 300_000 + n,
                "author": author,
                "author_platform": "wiki",
                "updated_at": updated,
            }
        )
        tags.append({"name": tag, "page_id": page_id, "current": True, "created_at": updated})
        if n % 10 == 0:
            old = {"name": f"{tag}-old", "page_id": page_id, "current": False}
            tags.append({**old, "created_at": updated - timedelta(days=90)})
        obj = f"practice:{page_id}"
        credit.append(_credit(author, "practice_authored", obj, "authored", 10.0, updated))
        for topic in rng.sample(range(1, 100_001), int(rng.expovariate(1 / 50)) + 1):
            found = now - timedelta(days=rng.random() * 180)
            topics.append(
                {
                    "page_id": page_id,
                    "topic_id": topic,
                    "title": f"Topic {topic}",
                    "slug": f"topic-{topic}",
                    "matched_by": rng.choice(("link", "title", "alias", "tag")),
                    "found_at": found,
                    "removed_at": found + timedelta(days=3) if rng.random() < 0.03 else None,
                }
            )
        adopters = rng.sample(organisations, min(len(organisations), int(rng.paretovariate(1.5))))
        for organisation in adopters:
            adopted = updated + timedelta(days=rng.randrange(1, 200))
            withdrawn = adopted + timedelta(days=30) if rng.random() < 0.05 else None
            adoptions.append(
                {
                    "page_id": page_id,
                    "organisation": organisation,
                    "source": rng.choice(("template", "action")),
                    "actor": author,
                    "revid": 300_000 + n,
                    "adopted_at": adopted,
                    "withdrawn_at": withdrawn,
                }
            )
            if organisation != origin:
                ref = f"adoption:{organisation}"
                credit.append(_credit(author, "practice_adopted", obj, ref, 15.0, adopted))
    connection.execute(insert(Practice), practices)
    connection.execute(insert(PracticeTagName), tags)
    connection.execute(insert(PracticeTopic), topics)
    connection.execute(insert(PracticeAdoption), adoptions)
    connection.execute(insert(CreditEntry), credit)
    connection.execute(insert(PracticeSuggestion), _suggestions(rng, now))
    return len(practices)


def _credit(
    author: str, kind: str, obj: str, ref: str, weight: float, at: datetime
) -> dict[str, Any]:
    return {
        "entry_key": f"{kind}|wiki|{obj}|{ref}|{author}",
        "platform": "wiki",
        "account": author,
        "kind": kind,
        "object": obj,
        "ref": ref,
        "weight": weight,
        "occurred_at": at,
        "rule": kind,
        "scope": obj,
        "created_at": at,
    }


def _suggestions(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """Topics that look like practices (most decided long ago) and practice tags people
    made on the forum without a page."""
    rows = []
    for n, topic in enumerate(rng.sample(range(1, 100_001), SUGGESTIONS)):
        made = now - timedelta(hours=SUGGESTIONS - n)
        state = "open" if n >= SUGGESTIONS - 250 else rng.choice(("dismissed",) * 9 + ("promoted",))
        decided = state != "open"
        rows.append(
            {
                "key": f"topic:{topic}",
                "kind": "candidate",
                "topic_id": topic,
                "tag": None,
                "title": f"How we run topic {topic}'s checklist",
                "score": round(rng.uniform(0.3, 0.95), 3),
                "reasons": ["links a how-to", "three organisations replied"],
                "state": state,
                "page_title": f"Checklist {topic}" if state == "promoted" else None,
                "created_at": made,
                "decided_at": made + timedelta(hours=6) if decided else None,
                "decided_by": "maren_okafor" if decided else None,
                "detail": "Promotion refused: the title is taken" if n % 97 == 0 else None,
            }
        )
    for n in range(60):
        rows.append(
            {
                "key": f"tag:made-up-practice-{n}",
                "kind": "stub",
                "topic_id": None,
                "tag": f"made-up-practice-{n}",
                "title": f"made-up-practice-{n}",
                "score": 0.5,
                "reasons": ["a practice tag with no page"],
                "state": "open" if n % 2 else "dismissed",
                "page_title": None,
                "created_at": now - timedelta(days=n),
                "decided_at": None if n % 2 else now - timedelta(days=n / 2),
                "decided_by": None if n % 2 else "tomas_lind",
                "detail": None,
            }
        )
    return rows
