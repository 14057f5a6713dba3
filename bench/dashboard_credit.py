"""People for the dashboard benchmark: wiki accounts beside the forum ones, identity-link
suggestions, and the credit ledger a year of the generated forum would have written.

The forum's rows are derived from its posts in SQL (INSERT … SELECT): one ``forum_reply``
per creditable reply, a counter-entry for each one deleted or hidden since, likes from
other people on about a third of the posts, and accepted solutions. Keys, objects, refs
and weights are those ``community.credits.forum_credit`` writes, so every page reads the
ledger it will read in production. Wiki credit (surviving text, pages created) is added
for the wiki accounts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from community.credits.ledger import CANCEL_PREFIX, rebuild_totals
from community.credits.models import Account, CreditEntry, LinkSuggestion, Person
from community.credits.rules import load_rules
from core.config import Settings

WIKI_SHARE = 4  # one person in WIKI_SHARE also writes on the wiki
UNLINKED_EVERY = 5  # of those, one in UNLINKED_EVERY is not yet linked to their forum account
EDITS_PER_WIKI_ACCOUNT = 24  # surviving-text entries per wiki account, on average
WIKI_PAGES = 600

# forum_reply for every creditable reply, as forum_credit.credit_post writes it.
REPLIES_SQL = """
INSERT INTO credit_ledger (entry_key, platform, account, kind, object, ref, weight,
    occurred_at, rule, scope, created_at)
SELECT 'forum_reply|forum|post:' || p.post_id || '|' || p.post_id || '|' || p.username,
    'forum', p.username, 'forum_reply', 'post:' || p.post_id, CAST(p.post_id AS TEXT),
    :weight, p.created_at, 'forum_reply', 'category:' || p.category_id, p.created_at
FROM forum_post_activity p
JOIN accounts a ON a.platform = 'forum' AND a.username = p.username AND a.is_bot = 0
WHERE p.post_number > 1 AND p.post_type = 1 AND p.private = 0 AND p.created_at < :now
ORDER BY p.post_id
"""

# The counter-entries of replies deleted or hidden after they were credited.
CANCELLED_SQL = """
INSERT INTO credit_ledger (entry_key, platform, account, kind, object, ref, weight,
    occurred_at, rule, scope, cancels_key, reason, created_at)
SELECT :prefix || l.entry_key, l.platform, l.account, l.kind, l.object, l.ref, -l.weight,
    strftime('%Y-%m-%d %H:%M:%S.000000', l.occurred_at, '+3 hours'), l.rule, l.scope,
    l.entry_key, CASE WHEN p.deleted = 1 THEN 'post deleted' ELSE 'post hidden' END,
    strftime('%Y-%m-%d %H:%M:%S.000000', l.occurred_at, '+3 hours')
FROM credit_ledger l
JOIN forum_post_activity p ON l.object = 'post:' || p.post_id
WHERE l.kind = 'forum_reply' AND (p.deleted = 1 OR p.hidden = 1)
"""

# Likes from up to three other people on about a third of the visible posts.
LIKES_SQL = """
WITH likers(n) AS (VALUES (1), (2), (3)),
liked AS (
    SELECT p.post_id, p.username, p.created_at, p.category_id, n.n,
        'member' || printf('%05d', ((p.post_id * 7919 + n.n * 104729) % :people) + 1) AS liker
    FROM forum_post_activity p JOIN likers n ON (p.post_id * 31 + n.n) % 10 < 4 - n.n
    JOIN accounts a ON a.platform = 'forum' AND a.username = p.username AND a.is_bot = 0
    WHERE p.post_type = 1 AND p.private = 0 AND p.deleted = 0 AND p.hidden = 0
      AND p.created_at < :now
)
INSERT INTO credit_ledger (entry_key, platform, account, kind, object, ref, weight,
    occurred_at, rule, scope, created_at)
SELECT 'like_received|forum|post:' || post_id || '|like:' || liker || '|' || username,
    'forum', username, 'like_received', 'post:' || post_id, 'like:' || liker, :weight,
    strftime('%Y-%m-%d %H:%M:%S.000000', created_at, '+' || (n * 2) || ' hours'),
    'like_received', 'category:' || category_id,
    strftime('%Y-%m-%d %H:%M:%S.000000', created_at, '+' || (n * 2) || ' hours')
FROM liked WHERE liker <> username
ORDER BY post_id, n
"""

# One topic in eight has its second post accepted as the solution.
SOLUTIONS_SQL = """
INSERT INTO credit_ledger (entry_key, platform, account, kind, object, ref, weight,
    occurred_at, rule, scope, created_at)
SELECT 'accepted_solution|forum|post:' || r.post_id || '|solution:0|' || r.username,
    'forum', r.username, 'accepted_solution', 'post:' || r.post_id, 'solution:0', :weight,
    strftime('%Y-%m-%d %H:%M:%S.000000', r.created_at, '+1 days'), 'accepted_solution',
    'category:' || r.category_id, strftime('%Y-%m-%d %H:%M:%S.000000', r.created_at, '+1 days')
FROM forum_post_activity r
JOIN forum_post_activity t ON t.topic_id = r.topic_id AND t.post_number = 1
JOIN accounts a ON a.platform = 'forum' AND a.username = r.username AND a.is_bot = 0
WHERE r.post_number = 2 AND r.topic_id % 8 = 0 AND r.post_type = 1 AND r.private = 0
  AND r.deleted = 0 AND r.hidden = 0 AND r.username <> t.username AND r.created_at < :now
ORDER BY r.post_id
"""


@dataclass(frozen=True)
class CreditCounts:
    wiki_accounts: int
    suggestions: int
    ledger_rows: int


def write_people_credit(
    connection: Connection, settings: Settings, now: datetime, sqlite_now: str
) -> CreditCounts:
    """Wiki accounts, link suggestions and the whole ledger; returns what was written."""
    rng = random.Random(17)  # noqa: S311 (made-up data, reproducible on purpose)
    weights = settings_weights(settings)
    wiki = _wiki_accounts(connection, rng, now)
    suggestions = _suggestions(connection, rng, wiki, now)
    people = connection.scalar(select(func.count()).select_from(Person)) or 1
    connection.execute(text(REPLIES_SQL), {"weight": weights["forum_reply"], "now": sqlite_now})
    connection.execute(text(CANCELLED_SQL), {"prefix": CANCEL_PREFIX})
    likes = {"weight": weights["like_received"], "now": sqlite_now, "people": people}
    connection.execute(text(LIKES_SQL), likes)
    solutions = {"weight": weights["accepted_solution"], "now": sqlite_now}
    connection.execute(text(SOLUTIONS_SQL), solutions)
    _wiki_credit(connection, rng, wiki, weights, now)
    rebuild_totals(connection)
    rows = connection.scalar(select(func.count()).select_from(CreditEntry)) or 0
    return CreditCounts(len(wiki), suggestions, int(rows))


def settings_weights(settings: Settings) -> dict[str, float]:
    return dict(load_rules(settings).versions[-1].weights)


@dataclass(frozen=True)
class _WikiAccount:
    username: str
    forum_username: str
    person_id: int
    linked: bool


def _wiki_accounts(connection: Connection, rng: random.Random, now: datetime) -> list[_WikiAccount]:
    """Every WIKI_SHARE-th forum person also edits the wiki (MediaWiki capitalises the
    first letter); most are linked to their forum account, some wait for a moderator."""
    forum = connection.execute(
        select(Account.username, Account.person_id)
        .where(Account.platform == "forum", Account.is_bot.is_(False))
        .order_by(Account.id)
    ).all()
    next_person = (connection.scalar(select(func.max(Person.id))) or 0) + 1
    made: list[_WikiAccount] = []
    people: list[dict[str, Any]] = []
    for n, (username, person_id) in enumerate(forum[::WIKI_SHARE]):
        linked = n % UNLINKED_EVERY != 0
        owner = person_id
        if not linked:
            owner = next_person
            next_person += 1
            people.append({"id": owner, "name": None, "created_at": now - timedelta(days=300)})
        made.append(_WikiAccount(username[:1].upper() + username[1:], username, owner, linked))
    if people:
        connection.execute(insert(Person), people)
    joined = now - timedelta(days=400)
    connection.execute(
        insert(Account),
        [
            {
                "platform": "wiki",
                "username": a.username,
                "person_id": a.person_id,
                "external_id": str(50_000 + n),
                "is_bot": False,
                "created_at": joined + timedelta(minutes=rng.randrange(500_000)),
            }
            for n, a in enumerate(made)
        ],
    )
    return made


def _suggestions(
    connection: Connection, rng: random.Random, wiki: list[_WikiAccount], now: datetime
) -> int:
    """Pairs with the same username: the linked ones approved, the rest open or rejected."""
    reasons = (["same username"], ["same username", "same email"], ["DiscourseConnect login"])
    rows = []
    for account in wiki:
        made = now - timedelta(days=rng.randrange(1, 200), minutes=rng.randrange(1440))
        state = "linked" if account.linked else "rejected" if rng.random() < 0.3 else "open"
        decided = state != "open"
        rows.append(
            {
                "wiki_username": account.username,
                "forum_username": account.forum_username,
                "reasons": rng.choice(reasons),
                "state": state,
                "created_at": made,
                "decided_at": made + timedelta(hours=rng.randrange(1, 72)) if decided else None,
                "decided_by": rng.choice(("maren_okafor", "tomas_lind")) if decided else None,
            }
        )
    connection.execute(insert(LinkSuggestion), rows)
    return len(rows)


def _wiki_credit(
    connection: Connection,
    rng: random.Random,
    wiki: list[_WikiAccount],
    weights: dict[str, float],
    now: datetime,
) -> None:
    """Surviving text per revision (some later cancelled by a change of the text) and
    pages created, as community.credits.wiki_credit writes them."""
    rows: list[dict[str, Any]] = []
    revid = 200_000
    for account in wiki:
        for _ in range(int(rng.expovariate(1 / EDITS_PER_WIKI_ACCOUNT)) + 1):
            revid += 1
            page = 30_000 + rng.randrange(WIKI_PAGES)
            at = now - timedelta(days=rng.random() * 365)
            obj, ref = f"page:{page}", f"head:{revid}"
            key = f"wiki_text|wiki|{obj}|{ref}|{account.username}"
            weight = round(rng.uniform(0.05, 12.0), 2) * weights["wiki_text"]
            rows.append(_entry(key, account.username, "wiki_text", obj, ref, weight, at))
            if rng.random() < 0.1:
                later = at + timedelta(days=rng.random() * 30)
                reason = f"text changed in revision {revid + 7}"
                rows.append(
                    _entry(key, account.username, "wiki_text", obj, ref, -weight, later, reason)
                )
            if rng.random() < 0.08:
                key = f"page_created|wiki|{obj}|{revid}|{account.username}"
                weight, ref = weights["page_created"], str(revid)
                rows.append(_entry(key, account.username, "page_created", obj, ref, weight, at))
    connection.execute(insert(CreditEntry), rows)


def _entry(
    key: str,
    account: str,
    kind: str,
    obj: str,
    ref: str,
    weight: float,
    at: datetime,
    cancel_reason: str | None = None,
) -> dict[str, Any]:
    cancelling = cancel_reason is not None
    return {
        "entry_key": CANCEL_PREFIX + key if cancelling else key,
        "platform": "wiki",
        "account": account,
        "kind": kind,
        "object": obj,
        "ref": ref,
        "weight": weight,
        "occurred_at": at,
        "rule": kind,
        "scope": obj,
        "cancels_key": key if cancelling else None,
        "reason": cancel_reason,
        "created_at": at,
    }
