"""The record of rule runs, read back: recent runs, failed ones first to the eye."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webhooks.automations.models import AutomationRun


def recent_runs(
    session: Session, *, failed_only: bool = False, rule: str | None = None, limit: int = 50
) -> list[AutomationRun]:
    """The newest runs first; ``failed_only`` keeps failed and stopped runs."""
    query = select(AutomationRun).order_by(AutomationRun.started_at.desc(), AutomationRun.id.desc())
    if failed_only:
        query = query.where(AutomationRun.state.in_(("failed", "stopped")))
    if rule:
        query = query.where(AutomationRun.rule == rule)
    return list(session.scalars(query.limit(limit)))


def run_lines(run: AutomationRun) -> list[str]:
    """One line for the run, then one per action, then its error."""
    when = run.started_at.strftime("%Y-%m-%d %H:%M:%S")
    tries = f", {run.attempts} attempts" if run.attempts > 1 else ""
    lines = [f"{when}  {run.state:<7}  {run.rule}  on {run.event_id} ({run.event_kind}){tries}"]
    for action in run.actions:
        lines.append(f"    {action.get('result', '?'):<8} {action.get('description', '')}")
        if action.get("error"):
            lines.append(f"             error: {action['error']}")
    if run.error and not any(action.get("error") for action in run.actions):
        lines.append(f"    error: {run.error}")
    return lines
