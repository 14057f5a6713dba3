"""Wiki credit from page events: surviving text (``wiki_text``) and page creation
(``page_created``), kept in the ledger as the page's authorship changes.

Each page's authorship is carried forward in ``WikiAuthorship`` from the last revision
read. The ledger holds, per (page, author), one active ``wiki_text`` entry whose weight
reflects that author's surviving tokens at a head revision; when the count changes the
old entry gets a counter-entry and a new one is written, so a reverted edit's credit is
cancelled, never erased. A replayed event finds no new revision and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import ledger
from community.credits.authorship import advance, new_state, surviving_tokens
from community.credits.models import CreditEntry, WikiAuthorship
from community.credits.people import BOT_GROUPS
from community.credits.rules import CreditRules, is_excluded, is_ip_address, load_rules
from community.handling import HandlerContext
from connectors.mediawiki import WikiClient
from connectors.mediawiki.records import WikiRevision
from core import clock, event_kinds
from core.config import Settings
from core.errors import InvalidRequest, NotFound
from core.events import Event

PLATFORM = "wiki"
MAIN_NAMESPACE = 0
# Weights equal to this precision are the same credit (floats from a division).
WEIGHT_TOLERANCE = 1e-9


def credit_wiki_change(event: Event, ctx: HandlerContext) -> None:
    """wiki.edit/new/move/delete/restore/reconcile on a main-namespace page."""
    data: Mapping[str, Any] = event.payload
    if not ctx.settings.get("wiki", {}).get("url"):
        return  # no wiki configured to read the page from
    if int(data.get("ns") or MAIN_NAMESPACE) != MAIN_NAMESPACE:
        return
    title = str(data["title"])
    page_id = int(data.get("pageid") or 0) or None
    if event.kind == event_kinds.WIKI_DELETE:
        cancel_deleted_page(
            ctx.session,
            ctx.wiki(),
            title=title,
            page_id=page_id,
            epoch=str(data.get("rcid") or event.event_id),
            at=event.occurred_at,
        )
        return
    if event.kind == event_kinds.WIKI_MOVE:
        params: Mapping[str, Any] = data.get("log_params") or {}
        if int(params.get("target_ns") or MAIN_NAMESPACE) != MAIN_NAMESPACE:
            return
        title = str(params.get("target_title") or title)
    update_page_credit(ctx.session, ctx.wiki(), ctx.settings, title=title, page_id=page_id)


def update_page_credit(
    session: Session,
    wiki: WikiClient,
    settings: Settings,
    *,
    title: str,
    page_id: int | None = None,
    rules: CreditRules | None = None,
) -> bool:
    """Bring the page's authorship and its ledger entries up to the latest revision.

    True when there were new revisions. A page that no longer exists is left alone (its
    delete event cancels its credit)."""
    row = _authorship_row(session, title, page_id)
    state = row.state if row is not None else new_state()
    try:
        revisions = list(
            wiki.revisions(title, with_content=True, from_revid=int(state["revid"]) or None)
        )
    except NotFound:
        return False
    except InvalidRequest:  # the stored revision is not this page's any more: start over
        state = new_state() | {"epoch": state.get("epoch")}
        revisions = list(wiki.revisions(title, with_content=True))
    fresh = named_editors(r for r in revisions if r.revid > int(state["revid"]))
    if not fresh:
        return False
    if page_id is None:
        page_id = wiki.read_pages([title])[title].pageid
        if page_id is None:
            return False
    advanced = advance(state, fresh) | {"epoch": state.get("epoch")}
    _credit_page(session, wiki, settings, rules or load_rules(settings), page_id, advanced, fresh)
    if row is None:
        row = WikiAuthorship(page_id=page_id)
        session.add(row)
    row.title, row.revid, row.state = title, int(advanced["revid"]), advanced
    row.updated_at = clock.now()
    session.flush()
    return True


def named_editors(revisions: Iterable[WikiRevision]) -> list[WikiRevision]:
    """The revisions with anonymous (IP address) and temporary editors attributed to no
    one, like hidden users: they get no credit and no person."""
    return [replace(r, user=None) if is_anonymous(r) else r for r in revisions]


def is_anonymous(revision: WikiRevision) -> bool:
    return revision.anon or is_ip_address(revision.user or "")


def cancel_deleted_page(
    session: Session,
    wiki: WikiClient,
    *,
    title: str,
    page_id: int | None,
    epoch: str,
    at: datetime,
) -> int:
    """Cancel a deleted page's credit; its authorship starts again if it is restored
    (under a new ``epoch``, so restored credit gets fresh keys). A page that exists
    again (restored since: a replayed delete) is left alone. Returns entries cancelled."""
    page = wiki.read_pages([title])[title]
    row = _authorship_row(session, title, page_id)
    if page.exists and (page_id is None or page.pageid == page_id):
        return 0
    page_id = page_id or (row.page_id if row is not None else None)
    if page_id is None:
        return 0
    cancelled = ledger.cancel_object(
        session, platform=PLATFORM, object=f"page:{page_id}", reason="page deleted", at=at
    )
    if row is not None and row.state.get("epoch") != epoch:
        row.revid, row.state = 0, new_state() | {"epoch": epoch}
        row.updated_at = clock.now()
    session.flush()
    return cancelled


def _authorship_row(session: Session, title: str, page_id: int | None) -> WikiAuthorship | None:
    if page_id is not None:
        return session.get(WikiAuthorship, page_id)
    return session.scalars(select(WikiAuthorship).where(WikiAuthorship.title == title)).first()


def _credit_page(
    session: Session,
    wiki: WikiClient,
    settings: Settings,
    rules: CreditRules,
    page_id: int,
    state: dict[str, Any],
    fresh: list[WikiRevision],
) -> None:
    obj = f"page:{page_id}"
    head = int(state["revid"])
    suffix = f"@{state['epoch']}" if state.get("epoch") else ""
    at = fresh[-1].timestamp
    tokens = surviving_tokens(state)
    active = ledger.active_entries(session, platform=PLATFORM, object=obj, kind="wiki_text")
    creator = state.get("creator")
    names = set(tokens) | {e.account for e in active} | ({creator} if creator else set())
    groups = wiki.user_groups(names) if names else {}

    def credited(name: str) -> bool:
        bot = bool(BOT_GROUPS & groups.get(name, frozenset()))
        return not is_excluded(rules, settings, PLATFORM, name, is_bot=bot)

    wanted = {name: count for name, count in tokens.items() if credited(name)}
    by_account: dict[str, list[CreditEntry]] = {}
    for entry in active:
        by_account.setdefault(entry.account, []).append(entry)
    for name in sorted(set(wanted) | set(by_account)):
        entries, count = by_account.get(name, []), wanted.get(name, 0)
        if len(entries) == 1 and _same_text(rules, entries[0], count):
            continue  # their surviving text did not change: its row keeps its score
        for entry in entries:
            ledger.cancel(
                session, entry.entry_key, reason=f"text changed in revision {head}", at=at
            )
        contribution = ledger.scored(
            rules,
            platform=PLATFORM,
            account=name,
            kind="wiki_text",
            object=obj,
            ref=f"head:{head}{suffix}",
            occurred_at=at,
            scope=obj,
            units=float(count),
        )
        if contribution.weight > 0:
            ledger.credit(session, contribution)
    first = next((r for r in fresh if r.revid == state.get("first_revid")), None)
    if first is not None and creator and credited(creator):
        ledger.credit(
            session,
            ledger.scored(
                rules,
                platform=PLATFORM,
                account=creator,
                kind="page_created",
                object=obj,
                ref=f"{first.revid}{suffix}",
                occurred_at=first.timestamp,
                scope=obj,
            ),
        )


def _same_text(rules: CreditRules, entry: CreditEntry, tokens: int) -> bool:
    """Whether an author's active wiki_text row is for ``tokens`` surviving tokens. A row
    written before rows counted their tokens is judged by its weight under the version
    in force when it was written."""
    if entry.units is not None:
        return abs(entry.units - tokens) <= WEIGHT_TOLERANCE
    expected = rules.at(entry.occurred_at).points("wiki_text", tokens)
    return abs(entry.weight - expected) <= WEIGHT_TOLERANCE
