"""The Automations page: the rules in force (in words), their recent runs with errors,
and dry runs of the rules on a stored event or at a moment; and the same as JSON.

A dry run is ``constellate rules dry-run``'s (webhooks/automations/dry_run.py) and rolls
its transaction back, so it writes nothing. Like every page it reads the store only:
facts only the forum holds (an author's forum groups, a topic's tags) stay unknown, so a
condition on them does not hold; the command line asks the forum for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.events import Event
from core.inbox import to_event
from core.models import InboxEvent
from core.store import get_store
from dashboards.web import api, page_number, pages, paginate, render_page
from webhooks.automations import engine
from webhooks.automations.dry_run import dry_run
from webhooks.automations.models import AutomationRun
from webhooks.automations.rules_file import BUILTIN_SOURCE, active_rules, builtin_rules
from webhooks.automations.vocabulary import ActionSpec, Rule, RuleSet, RulesInvalid, Trigger

RECENT_EVENTS = 30  # stored events offered to a dry run
MAX_ID = 2**31 - 1  # row ids are 32-bit integers on PostgreSQL
YEARS = (1970, 9000)  # the times a dry run accepts
SHOWN = 60  # characters of an option shown in a rule's summary
PROBLEMS_SHOWN = 20
FAILED = ("failed", "stopped")  # what ?failed=1 keeps (history.recent_runs agrees)


class DryRunInput(ValueError):
    """A dry run asked for something that cannot be: the message says what to give."""


# -- the rules, in words ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSummary:
    rule: Rule
    trigger: str
    conditions: tuple[str, ...]
    actions: tuple[str, ...]


def rules_in_force(settings: Settings) -> tuple[RuleSet, list[str]]:
    """The rules that run, and the problems of a rules file that cannot be used (then
    the built-ins alone run, as the engine does)."""
    try:
        return active_rules(settings), []
    except RulesInvalid as exc:
        zone = str(settings["automations"]["time_zone"])
        problems = [f"{exc.source}: {problem}" for problem in exc.problems]
        return RuleSet(builtin_rules(settings), BUILTIN_SOURCE, zone), problems


def summarise(rule: Rule) -> RuleSummary:
    return RuleSummary(
        rule,
        describe_trigger(rule.trigger),
        tuple(f"{name}: {_words(value)}" for name, value in rule.conditions.items()),
        tuple(describe_action(action) for action in rule.actions),
    )


def describe_trigger(trigger: Trigger) -> str:
    options = trigger.options
    if trigger.kind == "event":
        return "event " + " or ".join(options["patterns"])
    if trigger.kind == "schedule":
        return f"schedule (cron {options['cron']})"
    if trigger.kind == "alert":
        wanted = options.get("rules") or []
        which = f" of {', '.join(wanted)}" if wanted else ""
        return f"health alert {options.get('state', 'raised')}{which}"
    if trigger.kind == "unanswered":
        return f"a topic unanswered for {options['hours']} hours"
    if trigger.kind == "stale_charter":
        return (
            f"a charter unedited for {options['days']} days while its forum was active "
            f"in the last {options['active_days']} days"
        )
    if trigger.kind == "beat":
        return "the start of each constellation's beat"
    filters = [f"{name} {_words(value)}" for name, value in options.items() if value]
    label = trigger.kind.replace("_", " ")
    return f"{label} ({'; '.join(filters)})" if filters else label


def describe_action(action: ActionSpec) -> str:
    shown = [f"{name}: {_words(value)}" for name, value in action.options.items()]
    return f"{action.kind} — {'; '.join(shown)}" if shown else action.kind


def _words(value: Any) -> str:
    """An option's value on one short line (templates shown as written)."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, Mapping):
        text = ", ".join(f"{key} {_words(item)}" for key, item in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(_words(item) for item in value)
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


# -- runs and events ----------------------------------------------------------------------


def runs_page(
    session: Session, *, rule: str | None, failed: bool, page: int
) -> tuple[list[AutomationRun], bool]:
    """The newest runs first, of one rule and/or only failed ones."""
    query = select(AutomationRun).order_by(AutomationRun.started_at.desc(), AutomationRun.id.desc())
    if rule:
        query = query.where(AutomationRun.rule == rule)
    if failed:
        query = query.where(AutomationRun.state.in_(FAILED))
    rows, more = paginate(session, query, page)
    return [row[0] for row in rows], more


def recent_events(session: Session) -> list[Any]:
    """The newest stored events, to choose one for a dry run (no payloads read)."""
    query = (
        select(InboxEvent.id, InboxEvent.kind, InboxEvent.subject, InboxEvent.received_at)
        .order_by(InboxEvent.id.desc())
        .limit(RECENT_EVENTS)
    )
    return list(session.execute(query))


# -- dry runs -----------------------------------------------------------------------------


def stored_event(session: Session, reference: str) -> Event:
    """The inbox event named by its row number or its event id."""
    reference = reference.strip()
    if reference.isdigit() and int(reference) <= MAX_ID:
        row = session.get(InboxEvent, int(reference))
    else:
        row = session.scalars(select(InboxEvent).where(InboxEvent.event_id == reference)).first()
    if row is None:
        shown = reference if len(reference) <= 80 else reference[:79] + "…"
        raise DryRunInput(f"No stored event has the id “{shown}”.")
    return to_event(row)


def moment(text: str, zone: str) -> datetime:
    """A time as typed (ISO 8601); without a UTC offset it is read in the partnership's
    time zone, as cron rules are."""
    try:
        value = datetime.fromisoformat(text.strip())
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(zone))
        if not YEARS[0] <= value.year <= YEARS[1]:  # the scans count days back from it
            raise ValueError(value.year)
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise DryRunInput(
            f"“{text[:40]}” is not a time: give one like 2026-11-23T09:00 ({zone}) "
            "or 2026-11-23T09:00+00:00."
        ) from None


# -- the pages ----------------------------------------------------------------------------


def _settings() -> Settings:
    settings: Settings = current_app.config["CONSTELLATE"]
    return settings


def _automations_page(*, error: str | None = None, form: Mapping[str, str] | None = None) -> str:
    settings = _settings()
    rules, problems = rules_in_force(settings)
    wanted = (request.args.get("rule") or "").strip()[:64] or None
    failed = request.args.get("failed") == "1"
    page = page_number()
    with get_store().session() as session:
        runs, more = runs_page(session, rule=wanted, failed=failed, page=page)
        events = recent_events(session)
    return render_page(
        "dashboard/automations.html",
        rules=[summarise(rule) for rule in rules.rules],
        source=rules.source,
        zone=rules.time_zone,
        problems=problems[:PROBLEMS_SHOWN],
        more_problems=max(0, len(problems) - PROBLEMS_SHOWN),
        runs=runs,
        more=more,
        page=page,
        rule=wanted,
        failed=failed,
        events=events,
        error=error,
        form=form or {},
    )


@pages.get("/automations")
def automations() -> str:
    return _automations_page()


@pages.post("/automations/dry-run")
def automations_dry_run() -> tuple[str, int]:
    """A POST because an event id may be typed in; it changes nothing, so it answers
    with the report itself."""
    form = {key: request.form.get(key, "").strip() for key in ("event", "event_id", "at")}
    reference = form["event_id"] or form["event"]
    settings = _settings()
    rules, problems = rules_in_force(settings)
    try:
        if bool(reference) == bool(form["at"]):
            raise DryRunInput("Choose a stored event or a time, one of the two.")
        with get_store().session() as session:
            try:
                event = stored_event(session, reference) if reference else None
                at = None if reference else moment(form["at"], rules.time_zone)
                judged = dry_run(session, settings, rules, event=event, at=at)  # store only
            finally:
                session.rollback()  # a dry run writes nothing
    except DryRunInput as exc:
        return _automations_page(error=str(exc), form=form), 400
    return (
        render_page(
            "dashboard/dry_run.html",
            judged=judged,
            at=at,
            zone=rules.time_zone,
            problems=problems,
            finished=engine.FINISHED,
        ),
        200,
    )


# -- the API ------------------------------------------------------------------------------


@api.get("/automations/rules")
def api_rules() -> Any:
    rules, problems = rules_in_force(_settings())
    return {
        "source": rules.source,
        "time_zone": rules.time_zone,
        "problems": problems,
        "rules": [_rule_json(summarise(rule)) for rule in rules.rules],
    }


def _rule_json(summary: RuleSummary) -> dict[str, Any]:
    rule = summary.rule
    return {
        "name": rule.name,
        "description": rule.description,
        "builtin": rule.builtin,
        "trigger": {
            "kind": rule.trigger.kind,
            "options": dict(rule.trigger.options),
            "summary": summary.trigger,
        },
        "conditions": dict(rule.conditions),
        "condition_summaries": list(summary.conditions),
        "actions": [
            {"kind": action.kind, "options": dict(action.options), "summary": text}
            for action, text in zip(rule.actions, summary.actions, strict=True)
        ],
    }


@api.get("/automations/runs")
def api_runs() -> Any:
    wanted = (request.args.get("rule") or "").strip()[:64] or None
    failed = request.args.get("failed") == "1"
    page = page_number()
    with get_store().session() as session:
        runs, more = runs_page(session, rule=wanted, failed=failed, page=page)
    return {
        "page": page,
        "next_page": page + 1 if more else None,
        "runs": [_run_json(run) for run in runs],
    }


def _run_json(run: AutomationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "rule": run.rule,
        "event_id": run.event_id,
        "event_kind": run.event_kind,
        "subject": run.subject,
        "state": run.state,
        "depth": run.depth,
        "attempts": run.attempts,
        "actions": [
            {
                "kind": str(action.get("kind", "")),
                "description": str(action.get("description", "")),
                "result": str(action.get("result", "")),
                "error": action.get("error"),
            }
            for action in run.actions
        ],
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
