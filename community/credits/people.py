"""People and their wiki and forum accounts: link suggestions, a moderator's decisions,
organisations and opt-out.

Every account starts with a person of its own. Two accounts become one person only when
a moderator links them; suggestions say why they might be one person, never act."""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from community.credits import identity_links
from community.credits.models import (
    Account,
    ConnectLogin,
    ConnectNonce,
    LinkSuggestion,
    Person,
)
from community.partners.names import Organisations
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core import clock, event_kinds, inbox
from core.errors import ConstellateError, PermissionDenied
from core.events import Event
from core.store import dialect_insert

log = logging.getLogger(__name__)

PLATFORMS = ("wiki", "forum")
SAME_USERNAME = "same username"
SAME_EMAIL = "same e-mail"
EMAIL_NAME = "e-mail name matches the wiki username"
CONNECT_LOGIN = "DiscourseConnect login"
LINK, PRIVACY = "link", "privacy"  # what a DiscourseConnect nonce was issued for
CONNECT_NONCE_LIFETIME = timedelta(minutes=10)
# Used and expired nonces are kept a day, so a late or replayed answer gets a clear reason.
CONNECT_NONCE_KEPT = timedelta(days=1)
# Characters no wiki username can hold: MediaWiki forbids them in every title.
WIKI_NAME_FORBIDDEN = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f]")
BOT_GROUPS = frozenset({"bot"})  # the wiki's group for bot accounts


class PeopleError(ConstellateError):
    """A people command cannot be done as asked; the message says what and why."""


# -- accounts --------------------------------------------------------------------------


def ensure_account(session: Session, platform: str, username: str) -> Account:
    """The account, created with a new person of its own when we did not know it."""
    if platform not in PLATFORMS:
        raise PeopleError(f"platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    if not username:
        raise PeopleError(f"{platform} account: the username is empty")
    found = _account(session, platform, username)
    if found is not None:
        return found
    person = Person()
    session.add(person)
    session.flush()
    values = {"platform": platform, "username": username, "person_id": person.id}
    statement = dialect_insert(session, Account).values(**values, is_bot=False)
    inserted = session.execute(statement.on_conflict_do_nothing().returning(Account.id)).scalar()
    if inserted is None:  # another worker created it meanwhile: keep theirs
        session.delete(person)
        session.flush()
    account = _account(session, platform, username)
    assert account is not None
    return account


def _account(session: Session, platform: str, username: str) -> Account | None:
    return session.scalars(
        select(Account).where(Account.platform == platform, Account.username == username)
    ).first()


def accounts_of(session: Session, person: Person) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .where(Account.person_id == person.id)
            .order_by(Account.platform, Account.username)
        )
    )


def find_person(session: Session, spec: str) -> Person:
    """A person named on the command line: an id, ``platform:username`` or a username."""
    text = spec.strip()
    if text.isdigit():
        person = session.get(Person, int(text))
        if person is None:
            raise PeopleError(f"person {text}: no such person id")
        return person
    platform, sep, name = text.partition(":")
    if sep and platform in PLATFORMS:
        account = _account(session, platform, name)
        if account is None:
            raise PeopleError(f"person {text}: no {platform} account named {name!r}")
        return session.get_one(Person, account.person_id)
    matches = list(
        session.scalars(select(Account).where(func.lower(Account.username) == text.lower()))
    )
    people = {account.person_id for account in matches}
    if not people:
        raise PeopleError(f"person {text}: no account with that username")
    if len(people) > 1:
        named = ", ".join(f"{a.platform}:{a.username}" for a in matches)
        raise PeopleError(f"person {text}: several people match ({named}); name the platform")
    return session.get_one(Person, people.pop())


# -- reading the forum -------------------------------------------------------------------


def refresh_forum_people(session: Session, forum: ForumClient) -> int:
    """Read the forum's users: e-mails where the admin list shows them, DiscourseConnect
    ids, bots, names. (Their partner comes from the partner groups:
    community.partners.affiliation.) Returns how many forum accounts were read."""
    users = forum.list_users("active")
    for user in users:
        account = ensure_account(session, "forum", user.username)
        account.email = user.email or account.email
        external = (user.data.get("external_id") or "") if user.data else ""
        account.external_id = str(external) or account.external_id
        account.is_bot = user.id <= 0  # Discourse's system user and bots have ids <= 0
        person = session.get_one(Person, account.person_id)
        person.name = person.name or user.name or None
    session.flush()
    return len(users)


# -- DiscourseConnect ---------------------------------------------------------------------


def claimed_wiki_name(text: str) -> str:
    """A wiki username someone says is theirs, spelled as MediaWiki spells it (spaces, not
    "_"; first letter capital); PeopleError when no wiki account could have that name."""
    name = " ".join(text.replace("_", " ").split())
    if not name:
        raise PeopleError("wiki username: empty; name the wiki account to link")
    if len(name) > 255:
        raise PeopleError(f"wiki username {name[:40]!r}...: longer than 255 characters")
    if WIKI_NAME_FORBIDDEN.search(name):
        raise PeopleError(f"wiki username {name!r}: contains a character wiki names cannot have")
    return name[:1].upper() + name[1:]


def start_connect_login(session: Session, wiki_username: str) -> str:
    """A new one-use nonce (256 random bits) for a DiscourseConnect login that claims
    ``wiki_username``; it expires after CONNECT_NONCE_LIFETIME."""
    return _new_nonce(session, claimed_wiki_name(wiki_username), LINK)


def start_privacy_login(session: Session) -> str:
    """A nonce for a DiscourseConnect login to a person's own opt-out page."""
    return _new_nonce(session, "", PRIVACY)


def _new_nonce(session: Session, wiki_username: str, purpose: str) -> str:
    now = clock.now()
    session.execute(delete(ConnectNonce).where(ConnectNonce.expires_at < now - CONNECT_NONCE_KEPT))
    nonce = secrets.token_urlsafe(32)
    session.add(
        ConnectNonce(
            nonce=nonce,
            wiki_username=wiki_username,
            purpose=purpose,
            expires_at=now + CONNECT_NONCE_LIFETIME,
        )
    )
    session.flush()
    return nonce


def claim_connect_nonce(session: Session, nonce: str, purpose: str = "link") -> str:
    """Use up a nonce we issued for ``purpose`` and answer the wiki username it claimed;
    PermissionDenied when it is unknown, used, expired or for another purpose. One
    conditional UPDATE marks it used, so of two answers racing with the same nonce only
    one wins."""
    now = clock.now()
    claimed = session.execute(
        update(ConnectNonce)
        .where(
            ConnectNonce.nonce == nonce,
            ConnectNonce.purpose == purpose,
            ConnectNonce.used_at.is_(None),
            ConnectNonce.expires_at > now,
        )
        .values(used_at=now)
        .returning(ConnectNonce.wiki_username)
    ).scalar()
    if claimed is not None:
        return str(claimed)
    known = session.get(ConnectNonce, nonce)
    if known is None or known.purpose != purpose:
        why = "its nonce was not issued here for this page (or is long gone)"
    elif known.used_at is not None:
        why = "its nonce was already used; start the login again"
    else:
        why = "its nonce expired; start the login again"
    raise PermissionDenied(
        f"DiscourseConnect answer refused: {why}", platform="forum", code="bad_nonce"
    )


def record_connect_login(
    session: Session, payload: Mapping[str, str], wiki_username: str
) -> ConnectLogin:
    """Record a verified DiscourseConnect login: the forum vouches for the name and e-mail,
    the person claims ``wiki_username``. One row per forum account (its external id); a
    new login updates it."""
    missing = [key for key in ("external_id", "username") if not payload.get(key)]
    if missing:
        raise PeopleError(f"DiscourseConnect login: missing {', '.join(missing)}")
    external_id = payload["external_id"]
    if len(external_id) > 64:
        raise PeopleError(f"DiscourseConnect login: external_id {external_id[:20]!r}... too long")
    wiki_name = claimed_wiki_name(wiki_username)
    statement = dialect_insert(session, ConnectLogin).values(
        external_id=external_id, forum_username=payload["username"], logged_in_at=clock.now()
    )
    session.execute(statement.on_conflict_do_nothing())
    login = session.scalars(
        select(ConnectLogin).where(ConnectLogin.external_id == external_id)
    ).one()
    login.forum_username = payload["username"]  # a forum rename keeps the external id
    login.wiki_username = wiki_name
    login.email = payload.get("email") or None
    login.name = payload.get("name") or None
    login.logged_in_at = clock.now()
    account = ensure_account(session, "forum", payload["username"])
    account.external_id = external_id
    account.email = login.email or account.email
    session.flush()
    return login


def suggest_connect_link(
    session: Session, wiki: WikiClient, login: ConnectLogin
) -> LinkSuggestion | None:
    """The suggestion a DiscourseConnect login makes: (claimed wiki account, forum account),
    when that wiki account exists and neither is a bot. An open suggestion for the pair
    gains the reason; a rejected or linked pair is left alone. Nothing is linked."""
    if not login.wiki_username:
        return None
    groups = wiki.user_groups([login.wiki_username])[login.wiki_username]
    # Every registered user is in the implicit "*" group; an unknown name has no groups.
    if not groups or groups & BOT_GROUPS:
        return None
    forum_account = _account(session, "forum", login.forum_username)
    if forum_account is None or forum_account.is_bot:
        return None
    found = session.scalars(
        select(LinkSuggestion).where(
            LinkSuggestion.wiki_username == login.wiki_username,
            LinkSuggestion.forum_username == login.forum_username,
        )
    ).first()
    if found is None:
        return _new_suggestion(session, login.wiki_username, login.forum_username, [CONNECT_LOGIN])
    if found.state == "open" and CONNECT_LOGIN not in found.reasons:
        found.reasons = [*found.reasons, CONNECT_LOGIN]
        session.flush()
    return found


# -- suggestions ----------------------------------------------------------------------------


def normalised_name(name: str) -> str:
    """Casefolded, with "_" the same as a space (MediaWiki treats them alike)."""
    return " ".join(name.replace("_", " ").split()).casefold()


def _loose(name: str) -> str:
    """Letters and digits only: an e-mail's local part ("ana.lima") vs a username."""
    return re.sub(r"[\W_]+", "", name.casefold())


def suggest_links(session: Session, wiki: WikiClient, forum: ForumClient) -> list[LinkSuggestion]:
    """New suggestions of wiki and forum accounts that may be one person, with reasons."""
    refresh_forum_people(session, forum)
    wiki_names = _wiki_names(session, wiki)
    forum_accounts = [
        a
        for a in session.scalars(select(Account).where(Account.platform == "forum"))
        if not a.is_bot
    ]
    by_name: dict[str, list[Account]] = defaultdict(list)
    by_email: dict[str, list[Account]] = defaultdict(list)
    by_local: dict[str, list[Account]] = defaultdict(list)
    for account in forum_accounts:
        by_name[normalised_name(account.username)].append(account)
        if account.email:
            by_email[account.email.casefold()].append(account)
            by_local[_loose(account.email.split("@", 1)[0])].append(account)
    claims: dict[str, list[ConnectLogin]] = defaultdict(list)
    for login in session.scalars(
        select(ConnectLogin).where(ConnectLogin.wiki_username.isnot(None))
    ):
        claims[normalised_name(login.wiki_username or "")].append(login)
    reasons: dict[tuple[str, str], list[str]] = defaultdict(list)

    def note(wiki_name: str, accounts: Iterable[Account], reason: str) -> None:
        for account in accounts:
            if reason not in reasons[(wiki_name, account.username)]:
                reasons[(wiki_name, account.username)].append(reason)

    for wiki_name in wiki_names:
        key = normalised_name(wiki_name)
        note(wiki_name, by_name.get(key, ()), SAME_USERNAME)
        # "same e-mail" only for an e-mail we know for the wiki account itself.
        wiki_account = _account(session, "wiki", wiki_name)
        if wiki_account is not None and wiki_account.email:
            note(wiki_name, by_email.get(wiki_account.email.casefold(), ()), SAME_EMAIL)
        note(wiki_name, by_local.get(_loose(wiki_name), ()), EMAIL_NAME)
        # A person who logged in through the forum and named this wiki account.
        for login in claims.get(key, ()):
            forum_account = _account(session, "forum", login.forum_username)
            note(wiki_name, [forum_account] if forum_account else [], CONNECT_LOGIN)
    return [
        suggestion
        for (wiki_name, forum_name), why in sorted(reasons.items())
        if (suggestion := _new_suggestion(session, wiki_name, forum_name, why)) is not None
    ]


def _wiki_names(session: Session, wiki: WikiClient) -> list[str]:
    known = set(session.scalars(select(Account.username).where(Account.platform == "wiki")))
    registered = wiki.all_users()
    bots = {name for name, groups in registered.items() if groups & BOT_GROUPS}
    bots |= set(
        session.scalars(select(Account.username).where(Account.platform == "wiki", Account.is_bot))
    )
    return sorted((known | set(registered)) - bots)


def _new_suggestion(
    session: Session, wiki_name: str, forum_name: str, reasons: list[str]
) -> LinkSuggestion | None:
    """A suggestion for a pair not suggested before (in any state) and not yet linked."""
    wiki_account = _account(session, "wiki", wiki_name)
    forum_account = _account(session, "forum", forum_name)
    if wiki_account and forum_account and wiki_account.person_id == forum_account.person_id:
        return None
    values = {"wiki_username": wiki_name, "forum_username": forum_name, "reasons": reasons}
    statement = dialect_insert(session, LinkSuggestion).values(**values, state="open")
    new_id = session.execute(
        statement.on_conflict_do_nothing().returning(LinkSuggestion.id)
    ).scalar()
    return None if new_id is None else session.get_one(LinkSuggestion, new_id)


def open_suggestions(session: Session) -> list[LinkSuggestion]:
    return list(
        session.scalars(
            select(LinkSuggestion).where(LinkSuggestion.state == "open").order_by(LinkSuggestion.id)
        )
    )


# -- a moderator's decisions ------------------------------------------------------------------

Pair = int | tuple[str, str]


def link(session: Session, target: Pair, moderator: str) -> LinkSuggestion:
    """The wiki account joins the forum account's person: their ledger rows then count
    for one person. ``target`` is a suggestion id or (wiki username, forum username)."""
    suggestion = _suggestion(session, target, create=True)
    wiki_account = ensure_account(session, "wiki", suggestion.wiki_username)
    forum_account = ensure_account(session, "forum", suggestion.forum_username)
    if wiki_account.person_id != forum_account.person_id:
        joined = session.get_one(Person, forum_account.person_id)
        was = identity_links.snapshot(session.get_one(Person, wiki_account.person_id))
        before = identity_links.snapshot(joined)
        _move(session, wiki_account, joined)
        identity_links.record_link(
            session,
            wiki_account,
            forum_account,
            moved_person=was,
            joined_before=before,
            moderator=moderator,
        )
    _decide(suggestion, "linked", moderator)
    session.flush()
    log.info(
        "people: %s linked wiki:%s to forum:%s",
        moderator,
        suggestion.wiki_username,
        suggestion.forum_username,
    )
    return suggestion


def reject(session: Session, target: Pair, moderator: str) -> LinkSuggestion:
    """The pair is not one person; it is never suggested again."""
    suggestion = _suggestion(session, target, create=True)
    if suggestion.state == "linked":
        raise PeopleError(
            f"suggestion {suggestion.id}: wiki:{suggestion.wiki_username} and "
            f"forum:{suggestion.forum_username} are linked; unlink one of them first"
        )
    _decide(suggestion, "rejected", moderator)
    session.flush()
    return suggestion


def unlink(session: Session, platform: str, username: str, moderator: str) -> Account:
    """Undo the links that joined the account to others: each moved account goes back to
    the person it had, with its credit, and the person it joined gets back what the link
    changed (``identity_links``). An account linked before links were recorded gets a
    person of its own. The pairs count as rejected, so they are not suggested again."""
    account = _account(session, platform, username)
    if account is None:
        raise PeopleError(f"{platform}:{username}: no such account")
    person = session.get_one(Person, account.person_id)
    others = [a for a in accounts_of(session, person) if a.id != account.id]
    if not others:
        raise PeopleError(f"{platform}:{username}: not linked to any other account")
    for standing in identity_links.standing_links(session, account):
        identity_links.undo(session, standing, moderator)
    session.refresh(account)
    if account.person_id == person.id and any(
        a.id != account.id for a in accounts_of(session, person)
    ):
        alone = Person(name=person.name if platform == "forum" else None)
        session.add(alone)
        session.flush()
        account.person_id = alone.id
    column = LinkSuggestion.wiki_username if platform == "wiki" else LinkSuggestion.forum_username
    for suggestion in session.scalars(
        select(LinkSuggestion).where(column == username, LinkSuggestion.state == "linked")
    ):
        _decide(suggestion, "rejected", moderator)
    session.flush()
    return account


def set_organisation(session: Session, person: Person, organisation: str, moderator: str) -> None:
    """A moderator's affiliation, to a registered partner named any of its ways; forum
    groups never overwrite it."""
    name = organisation.strip()
    if not name or len(name) > 255:
        raise PeopleError(f"organisation {organisation!r}: expected 1 to 255 characters")
    partners = Organisations.read(session)
    if not partners.known(name):
        known = sorted({full for _, full in partners.names.values()}, key=str.casefold)
        raise PeopleError(
            f"organisation {organisation!r}: not a registered partner "
            f"(partners: {', '.join(known) or 'none yet: add partner pages to the wiki'})"
        )
    person.organisation = partners.canonical(name)
    person.organisation_source = "moderator"
    session.flush()
    log.info(
        "people: %s set person %s's organisation to %s", moderator, person.id, person.organisation
    )


def set_opt_out(session: Session, person: Person, flag: bool, by: str = "moderator") -> bool:
    """Opted-out people are counted but never named (leaderboards, exports, wiki
    sections, dashboards) and hold no public badge. A change is told to the worker
    (``community.privacy_changed``), which revokes or grants badges and rewrites the
    wiki sections; True when it changed anything."""
    if bool(person.opted_out) == flag:
        return False
    person.opted_out = flag
    session.flush()
    inbox.record(
        session,
        Event(
            event_id=f"privacy:{person.id}:{uuid.uuid4().hex}",
            kind=event_kinds.PRIVACY_CHANGED,
            source="community",
            subject=f"person:{person.id}",
            actor=None,
            occurred_at=clock.now(),
            delivery_id=None,
            payload={"person_id": person.id, "opted_out": flag, "by": by},
        ),
    )
    log.info("people: person %s %s (by %s)", person.id, "opted out" if flag else "opted in", by)
    return True


def _suggestion(session: Session, target: Pair, *, create: bool) -> LinkSuggestion:
    if isinstance(target, int):
        found = session.get(LinkSuggestion, target)
        if found is None:
            raise PeopleError(f"suggestion {target}: no such suggestion")
        return found
    wiki_name, forum_name = target
    found = session.scalars(
        select(LinkSuggestion).where(
            LinkSuggestion.wiki_username == wiki_name, LinkSuggestion.forum_username == forum_name
        )
    ).first()
    if found is None and create:
        found = LinkSuggestion(
            wiki_username=wiki_name, forum_username=forum_name, reasons=["moderator"], state="open"
        )
        session.add(found)
        session.flush()
    if found is None:
        raise PeopleError(f"wiki:{wiki_name} / forum:{forum_name}: never suggested")
    return found


def _decide(suggestion: LinkSuggestion, state: str, moderator: str) -> None:
    suggestion.state = state
    suggestion.decided_at = clock.now()
    suggestion.decided_by = moderator


def _move(session: Session, account: Account, person: Person) -> None:
    """Move an account to ``person``; a person left with no account is removed, and
    what it carried (opt-out, a moderator's organisation) is kept on the new one."""
    old = session.get_one(Person, account.person_id)
    account.person_id = person.id
    session.flush()
    if accounts_of(session, old):
        return
    person.opted_out = person.opted_out or old.opted_out
    if old.organisation and not person.organisation:
        person.organisation = old.organisation
        person.organisation_source = old.organisation_source
    person.name = person.name or old.name
    session.delete(old)
    session.flush()
