"""The health summary a constellation's wiki section shows (from the stored snapshots)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from community.bot_section import escape
from community.health.models import HealthAlert, HealthSnapshot

NOT_YET = "Not measured yet: the figures appear after the first health computation."
SUMMARY_WINDOW = 30  # days; the widest window is used when 30 is not configured


def health_lines(session: Session, scope: str) -> list[str]:
    """Wikitext lines: figures we write, and alert messages escaped (they hold titles)."""
    snapshots = list(
        session.scalars(
            select(HealthSnapshot)
            .where(HealthSnapshot.scope == scope)
            .order_by(HealthSnapshot.day.desc(), HealthSnapshot.window_days)
        )
    )
    if not snapshots:
        return [NOT_YET]
    newest = [s for s in snapshots if s.day == snapshots[0].day]
    chosen = next((s for s in newest if s.window_days == SUMMARY_WINDOW), newest[-1])
    lines = [f"Over the last {chosen.window_days} days (as of {chosen.day.isoformat()}):"]
    lines += [f"* {line}" for line in describe(chosen.values)]
    alerts = session.scalars(
        select(HealthAlert)
        .where(HealthAlert.scope == scope, HealthAlert.state == "open")
        .order_by(HealthAlert.raised_at)
    )
    lines += [f"* '''Alert:''' {escape(alert.message)}" for alert in alerts]
    return lines


def describe(values: Mapping[str, Any]) -> list[str]:
    """Short sentences of the figures that matter most to the people of a constellation.
    A snapshot from before a figure existed simply lacks its sentence."""
    first = values["first_response"]
    lines = [f"{first['topics']} topics started, {first['unanswered']} still without a reply"]
    lines += _first_reply(first)
    lines += _centre_and_edge(values.get("announcements"), values.get("edge_replies"))
    participation = values["participation"]
    lines.append(f"{participation['posts']} posts by {participation['participants']} participants")
    for label, figure in (
        ("two-way ratio (the opening poster came back after a reply)", values["two_way"]["ratio"]),
        ("cross-organisation replies", values["cross_organisation"]["rate"]),
    ):
        if figure is not None:
            lines.append(f"{label}: {figure:.0%}")
    pulse = values["pulse"]
    if pulse["beats"]:
        lines.append(
            f"posts per beat, oldest first: {', '.join(str(b) for b in pulse['beats'])}"
            + (f" ({pulse['missed']} missed)" if pulse["missed"] else "")
        )
    return lines


def _first_reply(first: Mapping[str, Any]) -> list[str]:
    """The wait for a first reply counting the topics still waiting, then the answered
    topics' own (which alone would look better than the conversation is)."""
    lines = []
    if first["topics"] and "km_median_hours" in first:
        median, p90 = first["km_median_hours"], first["km_p90_hours"]
        if median is None:
            lines.append("first reply: more than half the topics are still waiting")
        else:
            tail = (
                f"{p90:.1f} h for 9 in 10 topics"
                if p90 is not None
                else "more than 1 topic in 10 still waiting"
            )
            lines.append(
                f"first reply after {median:.1f} h (median, topics still waiting counted), {tail}"
            )
    if first["median_hours"] is not None:
        lines.append(
            f"answered topics: first reply after {first['median_hours']:.1f} h (median), "
            f"{first['p90_hours']:.1f} h for 9 in 10"
        )
    return lines


def _centre_and_edge(
    announcements: Mapping[str, Any] | None, replies: Mapping[str, Any] | None
) -> list[str]:
    """Announcements by the stewards and the lead partner, answered from the edge or not,
    and the replies to them from the edge."""
    lines = []
    if announcements and announcements["announcements"]:
        line = (
            f"{announcements['announcements']} topics started by the stewards and the lead partner"
        )
        if announcements["eligible"]:
            line += (
                f", {announcements['answered_from_edge']} of {announcements['eligible']} "
                f"answered by others within {announcements['hours']} h"
            )
        lines.append(line)
    if replies and replies["replies_to_centre"]:
        lines.append(
            f"replies to the stewards and the lead partner: {replies['from_edge']} of "
            f"{replies['replies_to_centre']} by others"
        )
    return lines
