"""Running the rules on one event: match, check, plan, act, record.

Each rule's run is its own record (``AutomationRun``, one per rule and event), committed
as it ends, so one rule's failure never stops the others and an event handled again
(after a crash, or a retry) does not repeat a finished rule. Every action of a rule is
planned before any is done: a template naming a fact the event lacks fails the rule
before it has half acted.

A failure because a platform was unavailable or rate-limited is raised once every rule
has run: the worker then tries the event again later, and only unfinished rules run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.handling import HandlerContext
from connectors.discourse.client import ForumClient
from core import clock
from core.config import Settings
from core.errors import ConnectorError, RateLimited, Unavailable
from core.events import Event
from webhooks.automations import actions, conditions, facts, loops, rules_file, triggers
from webhooks.automations.models import AutomationRun
from webhooks.automations.vocabulary import (
    ActionEnv,
    ActionError,
    Facts,
    Planned,
    Rule,
    RuleSet,
    RulesInvalid,
)

log = logging.getLogger(__name__)

FINISHED = ("done", "stopped")
ERROR_LIMIT = 2000  # characters of an error kept on a run


@dataclass(frozen=True)
class Verdict:
    """What a rule would do with an event (a dry run), or why not."""

    rule: str
    reason: str | None  # None: it acts; else why not (a condition, the loop limit, …)
    planned: tuple[Planned, ...] = ()
    error: str | None = None  # planning failed: a missing placeholder, …


def rules_for(settings: Settings) -> RuleSet:
    """The rules in force; an invalid rules file leaves the built-ins running (and says
    so in the log on every event until it is mended: `constellate rules check`)."""
    try:
        return rules_file.active_rules(settings)
    except RulesInvalid as exc:
        log.error("automation rules not loaded, built-ins only: %s", exc)
        return RuleSet(rules_file.builtin_rules(settings), "built-in rules")


def matching(rules: RuleSet, event: Event) -> list[Rule]:
    return [rule for rule in rules.rules if triggers.matches(rule, event)]


def run_rules(
    event: Event,
    ctx: HandlerContext,
    *,
    rules: Sequence[Rule] | None = None,
    now: datetime | None = None,
) -> list[AutomationRun]:
    """Run every rule whose trigger matches ``event``; returns the runs made or updated."""
    wanted = matching(rules_for(ctx.settings), event) if rules is None else list(rules)
    if not wanted:
        return []
    now = now or clock.now()
    session, settings = ctx.session, ctx.settings
    known = facts.gather(event, session, settings, forum=ctx.forum)
    chain = loops.chain_of(session, event, now)
    runs: list[AutomationRun] = []
    retry_later: ConnectorError | None = None
    for rule in wanted:
        run = _previous_run(session, rule.name, event.event_id)
        if run is not None and run.state in FINISHED:
            continue
        seen = known.adding(rule=rule.name)
        try:
            if conditions.check(rule.conditions, seen) is not None:
                continue
        except ConnectorError as exc:  # a fact needed the platform, and it failed
            log.warning("rule %s on %s: conditions: %s", rule.name, event.event_id, exc)
            if isinstance(exc, RateLimited | Unavailable):
                retry_later = retry_later or exc
            continue
        run = _start(session, run, rule, event, now)
        transient = _run(ctx, rule, event, seen, chain, run, now)
        retry_later = retry_later or transient
        ctx.commit_so_far()
        runs.append(run)
    if retry_later is not None:
        raise retry_later
    return runs


def judge(
    event: Event,
    session: Session,
    settings: Settings,
    *,
    rules: RuleSet,
    forum: Callable[[], ForumClient] | None,
) -> list[Verdict]:
    """What each matching rule would do with ``event``, doing nothing (a dry run); without
    ``forum``, with what the store knows."""
    known = facts.gather(event, session, settings, forum=forum)
    chain = loops.chain_of(session, event, clock.now())
    verdicts: list[Verdict] = []
    for rule in matching(rules, event):
        seen = known.adding(rule=rule.name)
        reason = conditions.check(rule.conditions, seen) or _loop_reason(
            rule, seen, event, chain, settings
        )
        if reason is not None:
            verdicts.append(Verdict(rule.name, reason))
            continue
        try:
            planned = _plan(rule, seen, settings)
        except (ActionError, ConnectorError) as exc:
            verdicts.append(Verdict(rule.name, None, error=_describe(exc)))
            continue
        verdicts.append(Verdict(rule.name, None, planned))
    return verdicts


# -- one rule ---------------------------------------------------------------------------


def _run(
    ctx: HandlerContext,
    rule: Rule,
    event: Event,
    seen: Facts,
    chain: loops.Chain,
    run: AutomationRun,
    now: datetime,
) -> ConnectorError | None:
    """Plan and do the rule's actions, recording each; returns a transient failure."""
    settings = ctx.settings
    subject = _subject(seen, event)
    run.depth = chain.depth(rule.name, subject)
    stop = _loop_reason(rule, seen, event, chain, settings)
    if stop is not None:
        _finish(run, "stopped", now, error=stop)
        return None
    try:
        planned = _plan(rule, seen, settings)
    except (ActionError, ConnectorError) as exc:
        _finish(run, "failed", now, error=f"planning: {_describe(exc)}")
        return exc if isinstance(exc, RateLimited | Unavailable) else None
    done: list[dict[str, object]] = []
    for index, step in enumerate(planned):
        env = ActionEnv(
            session=ctx.session,
            settings=settings,
            forum=ctx.forum,
            wiki=ctx.wiki,
            rule=rule.name,
            event_id=event.event_id,
            key=f"{rule.name}|{event.event_id}|{index}",
            now=now,
            retry=run.attempts > 1,
        )
        try:
            outcome = actions.perform(step, env)
        except (ActionError, ConnectorError) as exc:
            error = f"{step.kind}: {_describe(exc)}"
            done.append(
                {
                    "kind": step.kind,
                    "description": step.description,
                    "result": "failed",
                    "error": error,
                }
            )
            run.actions = done + _not_done(planned[index + 1 :])
            _finish(run, "failed", now, error=error)
            log.warning("rule %s on %s: %s", rule.name, event.event_id, error)
            return exc if isinstance(exc, RateLimited | Unavailable) else None
        loops.remember(
            ctx.session,
            outcome.objects,
            subject=subject,
            chain=chain.then(rule.name, subject),
            now=now,
            minutes=float(settings["automations"]["loop_window_minutes"]),
        )
        done.append({"kind": step.kind, "description": outcome.description, "result": "done"})
        run.actions = list(done)
    _finish(run, "done", now)
    log.info("rule %s on %s: %d action(s) done", rule.name, event.event_id, len(done))
    return None


def _plan(rule: Rule, seen: Facts, settings: Settings) -> tuple[Planned, ...]:
    return tuple(actions.plan(spec, seen, settings) for spec in rule.actions)


def _loop_reason(
    rule: Rule, seen: Facts, event: Event, chain: loops.Chain, settings: Settings
) -> str | None:
    limit = int(settings["automations"]["max_depth"])
    depth = chain.depth(rule.name, _subject(seen, event))
    if depth < limit:
        return None
    return (
        f"loop: this event was caused by the rule's own actions on {chain.subject} "
        f"{depth} times in a row (automations.max_depth is {limit})"
    )


def _subject(seen: Facts, event: Event) -> str:
    """What a chain of rules is about: the topic, else the page, else the event's subject."""
    if "topic_id" in seen:
        return f"topic:{seen['topic_id']}"
    if "page_title" in seen:
        return f"page:{seen['page_title']}"
    return event.subject


# -- the record -------------------------------------------------------------------------


def _previous_run(session: Session, rule: str, event_id: str) -> AutomationRun | None:
    return session.scalars(
        select(AutomationRun).where(AutomationRun.rule == rule, AutomationRun.event_id == event_id)
    ).first()


def _start(
    session: Session, run: AutomationRun | None, rule: Rule, event: Event, now: datetime
) -> AutomationRun:
    if run is None:
        run = AutomationRun(
            rule=rule.name,
            event_id=event.event_id,
            event_kind=event.kind,
            subject=event.subject[:255],
            attempts=1,
        )
        session.add(run)
    else:
        run.attempts += 1
    run.state, run.error, run.started_at, run.finished_at = "started", None, now, None
    session.flush()
    return run


def _finish(run: AutomationRun, state: str, now: datetime, *, error: str | None = None) -> None:
    run.state = state
    run.error = error[:ERROR_LIMIT] if error else None
    run.finished_at = now


def _not_done(planned: Sequence[Planned]) -> list[dict[str, object]]:
    return [{"kind": p.kind, "description": p.description, "result": "not done"} for p in planned]


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
