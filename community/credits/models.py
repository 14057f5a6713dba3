"""People, their accounts, identity-link suggestions, the credit ledger and badge grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.models import Base, Payload, UTCDateTime


class Person(Base):
    """One human across both platforms. Every account starts with a person of its own;
    a moderator's link moves a wiki account to a forum account's person."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    organisation: Mapped[str | None] = mapped_column(String(255))
    # forum_group (a partner's forum group has them) or moderator (set by hand, kept)
    organisation_source: Mapped[str | None] = mapped_column(String(16))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class Account(Base):
    """A wiki or forum account. Usernames are stored as the platform spells them."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(8))  # wiki | forum
    username: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(64))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LinkSuggestion(Base):
    """A wiki account and a forum account that may be one person, and why.

    Unique per pair: a rejected pair stays rejected and is never suggested again."""

    __tablename__ = "link_suggestions"
    __table_args__ = (UniqueConstraint("wiki_username", "forum_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki_username: Mapped[str] = mapped_column(String(255))
    forum_username: Mapped[str] = mapped_column(String(255))
    reasons: Mapped[list[Any]] = mapped_column(Payload, default=list)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|linked|rejected
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))


class IdentityDecision(Base):
    """A moderator's link or unlink of accounts, kept for good: the history of who decided
    what, and what a link changed, so unlinking can put everything back as it was.

    A link records the moved account's person as it was (``moved_person``: id, name,
    organisation, opt-out) and the fields of the person it joined before and after
    (``joined_before``/``joined_after``); ``undone_by`` is the unlink that reversed it."""

    __tablename__ = "identity_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(8))  # link | unlink
    platform: Mapped[str] = mapped_column(String(8))  # the account that moved
    username: Mapped[str] = mapped_column(String(255))
    joined_platform: Mapped[str | None] = mapped_column(String(8))  # the account it joined
    joined_username: Mapped[str | None] = mapped_column(String(255))
    person_id: Mapped[int] = mapped_column(Integer)  # the person it joined, or was given
    moved_person: Mapped[dict[str, Any]] = mapped_column(Payload, default=dict)
    joined_before: Mapped[dict[str, Any]] = mapped_column(Payload, default=dict)
    joined_after: Mapped[dict[str, Any]] = mapped_column(Payload, default=dict)
    undone_by: Mapped[int | None] = mapped_column(Integer)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ConnectLogin(Base):
    """The latest verified DiscourseConnect login of one forum account (the forum vouches
    for its name and e-mail) and the wiki account the person said is theirs."""

    __tablename__ = "connect_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forum_username: Mapped[str] = mapped_column(String(255), index=True)
    # Discourse's user id: stable across renames, so one row per forum account.
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    wiki_username: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    logged_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ConnectNonce(Base):
    """A DiscourseConnect login we started: the forum does not track nonces for its
    provider, so an answer counts only with a nonce issued here, once, before it expires."""

    __tablename__ = "connect_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    wiki_username: Mapped[str] = mapped_column(String(255))
    # link (claims wiki_username) | privacy (a person's own opt-out page): a nonce is
    # good only for the login it was issued for.
    purpose: Mapped[str] = mapped_column(String(8), default="link")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CreditEntry(Base):
    """One row of the credit ledger: a contribution and its provenance, or the
    counter-entry that cancels one (``cancels_key``, negative weight). Rows are never
    updated or deleted; ``entry_key`` is unique, so a replay writes nothing."""

    __tablename__ = "credit_ledger"
    # A person's ledger pages, newest first (scores are read from credit_totals).
    __table_args__ = (
        Index("ix_credit_ledger_timeline", "platform", "account", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(8))  # wiki | forum
    account: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    object: Mapped[str] = mapped_column(String(128))  # page:<id>, post:<id>, practice:<id>
    ref: Mapped[str] = mapped_column(String(128))  # revision, post, like or adoption
    weight: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule: Mapped[str] = mapped_column(String(64))
    # The rules version that scored the row (None: written before rules were dated, or
    # weighed by an automation rule) and the counted things its weight is for (tokens of
    # surviving text; 1 for the rest), so a rescore can weigh it again exactly.
    rules_version: Mapped[str | None] = mapped_column(String(32))
    units: Mapped[float | None] = mapped_column(Float)
    scope: Mapped[str | None] = mapped_column(String(128), index=True)
    cancels_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CreditRescore(Base):
    """A moderator's rescore of a period: every active row that happened in it weighed
    again by the rules version in force then (counter-entries and new rows, never edits).
    Kept as the record of who changed past scores, when, and from which versions to
    which."""

    __tablename__ = "credit_rescores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    period_from: Mapped[datetime] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime] = mapped_column(UTCDateTime)
    # [{"from": version or null, "to": version, "rows": n, "points": delta}, ...]
    changes: Mapped[list[Any]] = mapped_column(Payload, default=list)
    rows: Mapped[int] = mapped_column(Integer, default=0)


class CreditTotal(Base):
    """The ledger summed per account and kind, so a leaderboard reads a row per account
    instead of every entry. Written only by ``community.credits.ledger`` in the same
    transaction as the entry it adds, so it always equals the ledger's sums. Keyed by the
    account's id: joined to people by an integer, and unchanged when accounts are linked."""

    __tablename__ = "credit_totals"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    entries: Mapped[int] = mapped_column(Integer, default=0)  # contributions recorded
    cancelled: Mapped[int] = mapped_column(Integer, default=0)  # counter-entries


class BadgeGrant(Base):
    """A badge granted on the forum by Constellate: once per (badge, username)."""

    __tablename__ = "badge_grants"
    __table_args__ = (UniqueConstraint("badge", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    badge: Mapped[str] = mapped_column(String(64))  # our rule name, e.g. practice_sharer
    username: Mapped[str] = mapped_column(String(255))
    forum_badge_id: Mapped[int] = mapped_column(Integer)
    user_badge_id: Mapped[int | None] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # Taken back on the forum when the person opted out; granted again (this row) when
    # they opt back in.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WikiAuthorship(Base):
    """Who wrote the surviving text of a page, as of ``revid``: kept so the next change
    needs only the revisions after it."""

    __tablename__ = "wiki_authorship"

    page_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    revid: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(Payload, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
