"""A scope's figures brought forward from what changed in the store since they were last
computed: the incremental step, kept per process for the scopes updated most recently
(up to ``KEPT_POSTS`` posts in all).

The store's triggers count the changes (core/migrations 0024): each forum category's
new posts, kept in ``HealthPostLog`` under the category's generation; every other input
(``EVERY_INPUT``: people, accounts, partners, practices, leadership, a stored post's
change); the wiki's changes (``WIKI_PAGES``). A kept scope takes its category's new
posts and reads again only what they touch: the earlier posts of a topic it did not
have, and the first posts ever of the people who may be newcomers. Anything else that
changed, a log with a gap, other settings or an earlier ``now`` build it again from the
store. A transaction that rolls back forgets the scopes it brought forward.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, event, select
from sqlalchemy.orm import Session

from community.health.inputs import (
    ScopeSpec,
    centre_of,
    load_inputs,
    people_of,
    read_accounts,
    read_histories,
    read_pages,
    read_posts,
    read_topics,
    spec_for,
)
from community.health.models import (
    EVERY_INPUT,
    FIRST_POSTS,
    IDENTITY,
    LINKS,
    WIKI_PAGES,
    HealthGeneration,
    HealthPostLog,
)
from community.health.rolling import Rolling
from community.health.scope import ScopeHealth
from community.partners.names import Organisations
from core.config import Settings

# The posts kept per process, in the scopes updated last: about half a kilobyte each.
KEPT_POSTS = 1_000_000
LOG_KEPT = 10_000  # new posts of a category logged; a scope further behind is built again
_TOUCHED = "health_scopes_brought_forward"  # Session.info: forgotten on rollback


@dataclass
class _Kept:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rolling: Rolling | None = None
    settings_key: str = ""
    generations: dict[int, int] = field(default_factory=dict)  # stream -> generation


Place = tuple[str, str]  # (the store's address, the scope)
_kept: OrderedDict[Place, _Kept] = OrderedDict()
_kept_lock = threading.Lock()


def updated(session: Session, settings: Settings, scope: str, now: datetime) -> ScopeHealth | None:
    """The scope's figures as of ``now``, from its kept state brought forward (or built);
    None when the scope names no constellation or category."""
    place = (str(session.connection().engine.url), scope)  # a process may open stores
    kept = _entry(place)
    with kept.lock:
        _remember(session, place)  # from here on, a rollback forgets what this did
        # Generations before posts: a post stored in between is then read twice (and
        # counted once), never missed.
        rolling = kept.rolling
        generations = _generations(session, rolling.spec.category_id) if rolling else {}
        spec: ScopeSpec | None = rolling.spec if rolling else None
        if rolling is None or generations[LINKS] != kept.generations.get(LINKS):
            spec = spec_for(session, scope)
        if spec is None:
            _forget(place)
            return None
        key = _settings_key(settings)
        if rolling is None or not _forward(session, settings, spec, key, kept, generations, now):
            if not rolling or spec.category_id != rolling.spec.category_id:
                generations = _generations(session, spec.category_id)
            inputs = load_inputs(session, settings, spec, now=now, later=True)
            rolling = Rolling(spec, inputs, settings["health"], now)
            kept.rolling, kept.settings_key = rolling, key
        kept.generations = generations
        health = rolling.health(now)
    _trim()
    return health


def forget_all() -> None:
    """Drop every kept scope (tests start from nothing)."""
    with _kept_lock:
        _kept.clear()


def prune_log(session: Session) -> None:
    """Keep each category's last ``LOG_KEPT`` logged posts (a scope further behind is
    built again anyway)."""
    log = HealthPostLog
    latest = (
        select(HealthGeneration.generation)
        .where(HealthGeneration.stream == log.category_id)
        .scalar_subquery()
    )
    session.execute(delete(log).where(log.generation <= latest - LOG_KEPT))


def _entry(place: Place) -> _Kept:
    with _kept_lock:
        kept = _kept.get(place)
        if kept is None:
            kept = _kept[place] = _Kept()
        _kept.move_to_end(place)
        return kept


def _trim() -> None:
    """Forget the scopes updated longest ago while more than ``KEPT_POSTS`` are kept
    (the one updated last always stays)."""
    with _kept_lock:
        total = sum(len(kept.rolling.known) for kept in _kept.values() if kept.rolling)
        while total > KEPT_POSTS and len(_kept) > 1:
            _, oldest = _kept.popitem(last=False)
            total -= len(oldest.rolling.known) if oldest.rolling else 0


def _forward(
    session: Session,
    settings: Settings,
    spec: ScopeSpec,
    key: str,
    kept: _Kept,
    generations: dict[int, int],
    now: datetime,
) -> bool:
    """Bring the kept scope forward to ``generations``; False when it must be built
    again instead."""
    rolling = kept.rolling
    assert rolling is not None
    category = spec.category_id
    if (
        spec != rolling.spec
        or key != kept.settings_key
        or now < rolling.now
        or any(generations[s] != kept.generations.get(s) for s in (IDENTITY, EVERY_INPUT))
    ):
        return False
    behind = kept.generations.get(category, 0)
    post_ids = list(
        session.execute(
            _LOGGED, {"category": category, "after": behind, "upto": generations[category]}
        ).scalars()
    )
    if len(post_ids) != generations[category] - behind:
        return False  # pruned, or the generations went back (a store restored)
    rows = read_posts(session, post_ids)
    old_topics = sorted({row.topic_id for row in rows if not rolling.knows_topic(row.topic_id)})
    rows += read_topics(session, old_topics)
    if not _meet(session, settings, spec, rolling, {row.username for row in rows}):
        return False
    rolling.add(rows)
    if generations[WIKI_PAGES] != kept.generations.get(WIKI_PAGES):
        rolling.set_pages(read_pages(session, settings, spec))
    if generations[FIRST_POSTS] != kept.generations.get(FIRST_POSTS):
        _read_histories(session, rolling, {row.username for row in rows})
    return True


def _meet(
    session: Session, settings: Settings, spec: ScopeSpec, rolling: Rolling, names: set[str]
) -> bool:
    """Read the accounts of people new to the scope; False when they change its centre
    (the lead partner's people), which every topic and reply is judged by."""
    new = names - rolling.inputs.accounts.keys()
    if not new:
        return True
    accounts = {**rolling.inputs.accounts, **read_accounts(session, new)}
    organisations = Organisations.read(session)
    people = people_of(settings, accounts, organisations)
    if centre_of(people, spec.charter or {}, organisations) != rolling.inputs.centre:
        return False
    rolling.meet(accounts, people)
    return True


def _read_histories(session: Session, rolling: Rolling, authors: Iterable[str]) -> None:
    """The first posts ever of the people who may be newcomers here and of the authors
    of new posts, read again when someone's first posts changed (posts anywhere on the
    forum change them; an author whose first posts did not change is no newcomer)."""
    people = rolling.inputs.people
    wanted = rolling.newcomer_candidates() | {people.person(name) for name in authors}
    accounts = rolling.inputs.accounts
    names = {name: accounts[name] for name in rolling.usernames_of(wanted)}
    found = read_histories(session, people, names)
    rolling.set_histories({person: found.get(person) for person in wanted})


_STREAMS = (EVERY_INPUT, WIKI_PAGES, FIRST_POSTS, LINKS, IDENTITY)
_GENERATIONS = select(HealthGeneration.stream, HealthGeneration.generation).where(
    HealthGeneration.stream.in_((*_STREAMS, bindparam("category")))
)
_LOGGED = (
    select(HealthPostLog.post_id)
    .where(
        HealthPostLog.category_id == bindparam("category"),
        HealthPostLog.generation > bindparam("after"),
        HealthPostLog.generation <= bindparam("upto"),
    )
    .order_by(HealthPostLog.generation)
)


def _generations(session: Session, category_id: int) -> dict[int, int]:
    found = dict.fromkeys((*_STREAMS, category_id), 0)
    rows = session.execute(_GENERATIONS, {"category": category_id})
    found.update({stream: generation for stream, generation in rows})
    return found


def _settings_key(settings: Settings) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def _remember(session: Session, place: Place) -> None:
    """Forget the scope if this transaction rolls back (it may hold the transaction's
    own posts)."""
    touched: set[Place] | None = session.info.get(_TOUCHED)
    if touched is None:
        touched = session.info[_TOUCHED] = set()
        event.listen(session, "after_soft_rollback", _forget_touched)
        event.listen(session, "after_commit", _commit_touched)
    touched.add(place)


def _forget(*places: Place) -> None:
    with _kept_lock:
        for place in places:
            _kept.pop(place, None)


def _forget_touched(session: Session, _transaction: object) -> None:
    touched: set[Place] = session.info.get(_TOUCHED, set())
    _forget(*touched)
    touched.clear()


def _commit_touched(session: Session) -> None:
    session.info.get(_TOUCHED, set()).clear()
