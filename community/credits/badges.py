"""Discourse badges for the credit rules' thresholds: created on the forum when missing,
granted once per (badge, forum account) and recorded in ``BadgeGrant``; taken back from
people who opted out (and granted again, on the same row, if they opt back in).

Metrics are per person (a person's accounts on both platforms count together); the
badge goes to the person's forum accounts, so wiki-only people get none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.activity import ForumPostActivity
from community.constellations.charter import CharterError, parse_charter
from community.constellations.models import PageTopicLink
from community.credits import ledger
from community.credits.models import Account, BadgeGrant, Person
from community.credits.rules import BadgeRule, CreditRules, is_excluded, load_rules, normalise
from connectors.discourse import ForumClient
from connectors.discourse.records import Badge
from connectors.mediawiki import WikiClient
from core import clock
from core.config import Settings
from core.errors import NotFound
from core.store import dialect_insert

Metric = Callable[[Session, Settings, WikiClient | None], Counter[int]]


def award_badges(
    session: Session, forum: ForumClient, settings: Settings, *, wiki: WikiClient | None = None
) -> list[BadgeGrant]:
    """Grant every badge whose threshold a person reached and that is not held yet, and
    take back on the forum the badges of people who opted out; returns the grants changed
    now. A badge the forum already shows is recorded, not granted again. ``wiki`` (made
    from the settings when needed) reads charters."""
    rules = load_rules(settings)
    changed = revoke_opted_out(session, forum)
    known: dict[str, Badge] | None = None
    for key, rule in rules.badges.items():
        if rule.metric not in METRICS:
            raise ValueError(f"badge {key}: unknown metric {rule.metric!r}")
        scores = METRICS[rule.metric](session, settings, wiki)
        for username in _forum_accounts(session, settings, rules, scores, rule.threshold):
            grant = _grant_row(session, key, username)
            if grant is not None and grant.revoked_at is None:
                continue
            if known is None:
                known = {badge.name.casefold(): badge for badge in forum.badges()}
            badge = _ensure_badge(forum, known, rule)
            held = next((b for b in forum.user_badges(username) if b.badge_id == badge.id), None)
            if held is None:
                held = forum.grant_badge(username, badge.id)
            if grant is not None:  # opted back in: the same row, granted again
                grant.forum_badge_id, grant.user_badge_id = badge.id, held.id
                grant.granted_at, grant.revoked_at = clock.now(), None
                session.flush()
                changed.append(grant)
            elif (made := _record(session, key, username, badge.id, held.id)) is not None:
                changed.append(made)
    return changed


def revoke_opted_out(session: Session, forum: ForumClient) -> list[BadgeGrant]:
    """Take back on the forum every badge we granted to someone who opted out (no public
    badge names them); the grant row is kept, marked revoked."""
    held_by_opted_out = (
        select(BadgeGrant)
        .join(Account, (Account.platform == "forum") & (Account.username == BadgeGrant.username))
        .join(Person, Person.id == Account.person_id)
        .where(Person.opted_out.is_(True), BadgeGrant.revoked_at.is_(None))
        .order_by(BadgeGrant.id)
    )
    revoked = []
    for grant in list(session.scalars(held_by_opted_out)):
        if grant.user_badge_id is not None:
            with suppress(NotFound):  # taken back on the forum already
                forum.revoke_badge(grant.user_badge_id)
        grant.revoked_at = clock.now()
        session.flush()
        revoked.append(grant)
    return revoked


# -- metrics: person id -> value -------------------------------------------------------


def practices_adopted_by_others(
    session: Session, settings: Settings, wiki: WikiClient | None
) -> Counter[int]:
    """Active practice_adopted ledger rows (credited to the practice's author)."""
    scores: Counter[int] = Counter()
    for entry in ledger.active_entries(session, kind="practice_adopted"):
        person = _person_of(session, entry.platform, entry.account)
        if person is not None:
            scores[person.id] += 1
    return scores


def cross_organisation_replies(
    session: Session, settings: Settings, wiki: WikiClient | None
) -> Counter[int]:
    """Forum replies to someone of another organisation (both must have one): the reply's
    target is the replied-to post, or the topic's first post when it names none. Only
    replies with an active forum_reply credit count, so the credit guards apply here too
    (no private messages, whispers, small actions, hidden or deleted posts)."""
    replies = {
        int(entry.object.removeprefix("post:")): entry.account
        for entry in ledger.active_entries(session, platform="forum", kind="forum_reply")
    }
    if not replies:
        return Counter()
    found = session.scalars(
        select(ForumPostActivity).where(ForumPostActivity.post_id.in_(list(replies)))
    )
    rows = {row.post_id: row for row in found}
    topics = {row.topic_id for row in rows.values()}
    targets = session.scalars(
        select(ForumPostActivity).where(ForumPostActivity.topic_id.in_(topics))
    )
    by_number = {(p.topic_id, p.post_number): p for p in targets}
    people: dict[str, Person | None] = {}

    def person(username: str) -> Person | None:
        if username not in people:
            people[username] = _person_of(session, "forum", username)
        return people[username]

    scores: Counter[int] = Counter()
    for post_id, username in replies.items():
        post = rows.get(post_id)
        if post is None:
            continue  # credited, but its activity row is not stored: nothing to join
        target = by_number.get((post.topic_id, post.reply_to_post_number or 1))
        if target is None:
            continue
        replier, replied = person(username), person(target.username)
        if replier is None or replied is None or replier.id == replied.id:
            continue
        ours, theirs = replier.organisation, replied.organisation
        if ours and theirs and normalise(ours) != normalise(theirs):
            scores[replier.id] += 1
    return scores


def constellations_led(
    session: Session, settings: Settings, wiki: WikiClient | None
) -> Counter[int]:
    """Constellations whose charter names the person as a steward while their
    organisation is the lead partner (the page's current text)."""
    links = list(session.scalars(select(PageTopicLink).where(PageTopicLink.archived_at.is_(None))))
    if not links:
        return Counter()
    wiki = wiki or WikiClient(settings["wiki"])
    pages = wiki.read_pages(link.wiki_title for link in links)
    stewards: dict[str, list[str]] = {}  # normalised steward name -> lead partners
    for link in links:
        page = pages[link.wiki_title]
        if not page.exists or page.pageid != link.wiki_page_id:
            continue
        try:
            charter = parse_charter(page.title, page.text)
        except CharterError:
            continue  # reported by the sync; a broken charter leads no one
        if charter is None:
            continue
        for name in charter.stewards:
            stewards.setdefault(normalise(name), []).append(normalise(charter.lead_partner))
    scores: Counter[int] = Counter()
    for person in session.scalars(select(Person).where(Person.organisation.is_not(None))):
        names = {normalise(a.username) for a in _accounts(session, person.id)}
        names |= {normalise(person.name)} if person.name else set()
        organisation = normalise(person.organisation or "")
        led = sum(leads.count(organisation) for name, leads in stewards.items() if name in names)
        if led:
            scores[person.id] = led
    return scores


METRICS: Mapping[str, Metric] = {
    "practices_adopted_by_others": practices_adopted_by_others,
    "cross_organisation_replies": cross_organisation_replies,
    "constellations_led": constellations_led,
}


# -- helpers --------------------------------------------------------------------------


def _person_of(session: Session, platform: str, username: str) -> Person | None:
    account = session.scalars(
        select(Account).where(Account.platform == platform, Account.username == username)
    ).first()
    return session.get(Person, account.person_id) if account is not None else None


def _accounts(session: Session, person_id: int) -> list[Account]:
    return list(session.scalars(select(Account).where(Account.person_id == person_id)))


def _forum_accounts(
    session: Session, settings: Settings, rules: CreditRules, scores: Counter[int], threshold: float
) -> list[str]:
    """The forum usernames of the people at or above ``threshold``, bots and our own
    accounts left out."""
    names: list[str] = []
    for person_id, value in sorted(scores.items()):
        person = session.get(Person, person_id)
        if value < threshold or person is None or person.opted_out:
            continue  # an opted-out person holds no public badge
        for account in _accounts(session, person_id):
            if account.platform != "forum" or account.is_bot:
                continue
            if not is_excluded(rules, settings, "forum", account.username):
                names.append(account.username)
    return names


def _grant_row(session: Session, badge: str, username: str) -> BadgeGrant | None:
    return session.scalars(
        select(BadgeGrant).where(BadgeGrant.badge == badge, BadgeGrant.username == username)
    ).first()


def _ensure_badge(forum: ForumClient, known: dict[str, Badge], rule: BadgeRule) -> Badge:
    badge = known.get(rule.name.casefold())
    if badge is None:
        badge = forum.create_badge(
            rule.name, badge_type_id=rule.badge_type, description=rule.description
        )
        known[rule.name.casefold()] = badge
    return badge


def _record(
    session: Session, badge: str, username: str, forum_badge_id: int, user_badge_id: int
) -> BadgeGrant | None:
    values = {
        "badge": badge,
        "username": username,
        "forum_badge_id": forum_badge_id,
        "user_badge_id": user_badge_id,
    }
    statement = dialect_insert(session, BadgeGrant).values(**values).on_conflict_do_nothing()
    grant_id = session.execute(statement.returning(BadgeGrant.id)).scalar()
    return session.get(BadgeGrant, grant_id) if grant_id is not None else None
