"""Rule actions: ``plan`` renders an action's templates and checks its targets (what a
dry run prints), ``perform`` does it, once per action key.

Planning needs no platform: every template is filled and every name checked first, so
a rule whose second action names a fact the event lacks fails before its first action
acts. What only a platform can say (does the category exist?) is checked when done.
The forum and wiki actions live in ``forum_actions`` and ``wiki_actions``; the ledger
credit and the outgoing webhook are here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from community.credits.ledger import Contribution, credit, fit_key
from core.config import Settings
from core.errors import ConstellateError
from core.events import Event
from webhooks.automations import forum_actions, wiki_actions
from webhooks.automations.forum_actions import check_forum_name, check_tags
from webhooks.automations.templates import (
    NAME,
    PLACEHOLDER,
    TemplateError,
    render,
    render_value,
    text_of,
)
from webhooks.automations.vocabulary import (
    ACTIONS,
    ActionEnv,
    ActionError,
    ActionSpec,
    Outcome,
    Planned,
)
from webhooks.automations.wiki_actions import check_section_name, check_title, practice_text
from webhooks.outgoing.queue import fan_out

DESCRIPTION_TEXT = 60  # characters of a text shown in a one-line description
CREDIT_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")  # the ledger's kind column holds 32
CREDIT_PLATFORMS = ("forum", "wiki")
WEBHOOK_TYPE = re.compile(r"automation\.[a-z0-9][a-z0-9_.-]*")
WEBHOOK_TYPE_LIMIT = 64  # an outgoing message's event kind column


class Options:
    """One action's options, rendered against the event's facts; errors name the action
    and the option."""

    def __init__(self, kind: str, options: Mapping[str, Any], facts: Mapping[str, Any]) -> None:
        self.kind = kind
        self.options = options
        self.facts = facts

    def text(self, name: str, target: str, *, default: str | None = None) -> str:
        value = self.optional(name, target, default=default)
        if value is None:
            raise ActionError(f"{self.kind}: the option {name!r} is missing")
        return value

    def optional(self, name: str, target: str, *, default: str | None = None) -> str | None:
        value = self.options.get(name, default)
        if value is None:
            return None
        return self._render(str(value), target, name)

    def names(self, name: str, *, default: list[str] | None = None) -> list[str]:
        """A list of plain templates (or one); an entry that is just a placeholder whose
        fact is a list stands for each item of it."""
        value = self.options.get(name, default)
        entries = [value] if isinstance(value, str | int) else list(value or [])
        found: list[str] = []
        for entry in entries:
            whole = PLACEHOLDER.fullmatch(str(entry).strip())
            fact = whole.group(1) if whole and NAME.match(whole.group(1)) else None
            if fact is not None and isinstance(self.facts.get(fact), list | tuple):
                items = [text_of(item) for item in self.facts[fact]]
            else:
                items = [self._render(str(entry), "plain", name)]
            for item in (item.strip() for item in items):
                if item and item not in found:
                    found.append(item)
        return found

    def _render(self, template: str, target: str, name: str) -> str:
        try:
            return render(template, self.facts, target=target)
        except TemplateError as exc:
            located = TemplateError(exc.missing, exc.invalid)
            located.args = (f"{self.kind}: {name}: {exc}",)
            raise located from None


def plan(spec: ActionSpec, facts: Mapping[str, Any], settings: Settings) -> Planned:
    """The action ``spec`` for the event of ``facts``: rendered, checked
    and described. Raises ActionError (TemplateError for placeholders)."""
    planner = PLANNERS.get(spec.kind)
    if planner is None:
        raise ActionError(f"unknown action {spec.kind!r} (one of {', '.join(ACTIONS)})")
    return planner(Options(spec.kind, spec.options, facts), settings)


def perform(planned: Planned, env: ActionEnv) -> Outcome:
    """Do a planned action, once per ``env.key`` however often it is retried."""
    return PERFORMERS[planned.kind](planned.params, env)


# -- planning -----------------------------------------------------------------------------


def _topic(o: Options) -> tuple[int, str]:
    """The topic acted on (the option, else the event's) and how to name it."""
    given = o.optional("topic", "plain")
    if given is None:
        if "topic_id" not in o.facts:
            raise ActionError(f"{o.kind}: this event has no topic; name one with the option topic")
        given = str(o.facts["topic_id"])
    if not given.strip().isdigit():
        raise ActionError(f"{o.kind}: topic {given!r} is not a topic id")
    topic_id = int(given)
    title = None
    if str(_fact(o.facts, "topic_id")) == str(topic_id):
        title = _fact(o.facts, "topic_title")
    return topic_id, f"topic {topic_id}" + (f" “{_short(str(title))}”" if title else "")


def _plan_tags(o: Options, settings: Settings) -> Planned:
    topic_id, named = _topic(o)
    tags = check_tags(o.names("tags"), o.kind)
    if not tags:
        raise ActionError(f"{o.kind}: no tags given")
    sign = "+" if o.kind == "tag" else "-"
    return Planned(
        o.kind,
        f"{o.kind} {named}: {', '.join(sign + tag for tag in tags)}",
        {"topic_id": topic_id, "tags": tags},
    )


def _acting(o: Options) -> str | None:
    name = o.optional("as", "plain")
    return check_forum_name(name, f"{o.kind}: as") if name is not None else None


def _plan_reply(o: Options, settings: Settings) -> Planned:
    topic_id, named = _topic(o)
    raw = _nonempty(o, "text", o.text("text", "markdown"))
    acting = _acting(o)
    by = f" (as {acting})" if acting else ""
    return Planned(
        "reply",
        f"reply in {named}{by}: {_short(raw)}",
        {"topic_id": topic_id, "raw": raw, "as": acting},
    )


def _plan_create_topic(o: Options, settings: Settings) -> Planned:
    title = _nonempty(o, "title", o.text("title", "plain"))
    raw = _nonempty(o, "text", o.text("text", "markdown"))
    category = o.optional("category", "plain")
    tags = check_tags(o.names("tags"), o.kind)
    acting = _acting(o)
    where = f" in category {category}" if category else ""
    return Planned(
        "create_topic",
        f"create topic “{_short(title)}”{where}: {_short(raw)}",
        {"title": title, "raw": raw, "category": category, "tags": tags, "as": acting},
    )


def _plan_message(o: Options, settings: Settings) -> Planned:
    recipients = [check_forum_name(name, "message: to") for name in o.names("to")]
    if not recipients:
        raise ActionError("message: the recipient list is empty")
    title = _nonempty(o, "title", o.text("title", "plain"))
    raw = _nonempty(o, "text", o.text("text", "markdown"))
    return Planned(
        "message",
        f"message “{_short(title)}” to {', '.join(recipients)}: {_short(raw)}",
        {"to": recipients, "title": title, "raw": raw},
    )


def _plan_badge(o: Options, settings: Settings) -> Planned:
    badge = _nonempty(o, "badge", o.text("badge", "plain")).strip()
    if len(badge) > forum_actions.BADGE_NAME_LIMIT:
        raise ActionError(f"badge: the name {badge[:40]!r}… is too long")
    people = [check_forum_name(name, "badge: to") for name in o.names("to")]
    if not people:
        raise ActionError("badge: nobody to grant it to")
    return Planned(
        "badge",
        f"grant badge “{badge}” to {', '.join(people)}",
        {
            "badge": badge,
            "to": people,
            "description": o.optional("description", "plain"),
            "reason": o.optional("reason", "plain"),
        },
    )


def _plan_wiki_section(o: Options, settings: Settings) -> Planned:
    page = check_title(o.text("page", "plain"), "wiki_section: page")
    section = check_section_name(o.text("section", "plain").strip())
    text = o.text("text", "wikitext")
    return Planned(
        "wiki_section",
        f"write section {section} of wiki page “{_short(page)}”: {_short(text)}",
        {"page": page, "section": section, "text": text, "summary": o.optional("summary", "plain")},
    )


def _plan_practice_stub(o: Options, settings: Settings) -> Planned:
    title = check_title(o.text("title", "plain"), "practice_stub: title")
    summary = o.text("summary", "wikitext")
    organisation = o.optional("organisation", "wikitext") or ""
    return Planned(
        "practice_stub",
        f"create practice page “{_short(title)}” unless it exists: {_short(summary)}",
        {"title": title, "text": practice_text(summary, organisation)},
    )


def _plan_credit(o: Options, settings: Settings) -> Planned:
    account = o.text("to", "plain").strip()
    if not account:
        raise ActionError("credit: the account to credit is empty")
    platform = str(o.options.get("platform") or "forum")
    if platform not in CREDIT_PLATFORMS:
        raise ActionError(f"credit: platform {platform!r} is not one of forum, wiki")
    if platform == "forum":
        account = check_forum_name(account, "credit: to")
    kind = str(o.options.get("kind") or "automation")
    if not CREDIT_KIND.fullmatch(kind):
        raise ActionError(f"credit: kind {kind!r}: lowercase letters, digits and _ (at most 32)")
    weight = o.options.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ActionError(f"credit: weight {weight!r} is not a number above 0")
    subject = str(_fact(o.facts, "subject") or "")
    return Planned(
        "credit",
        f"credit {platform} account {account} with {weight:g} ({kind})",
        {
            "platform": platform,
            "account": account,
            "kind": kind,
            "weight": float(weight),
            "object": subject,
        },
    )


def _plan_webhook(o: Options, settings: Settings) -> Planned:
    kind = str(o.options.get("type") or "")
    if len(kind) > WEBHOOK_TYPE_LIMIT or not WEBHOOK_TYPE.fullmatch(kind):
        raise ActionError(
            f"webhook: type {kind!r} must start with automation. and hold lowercase letters, "
            f"digits, _ . - (at most {WEBHOOK_TYPE_LIMIT})"
        )
    data = o.options.get("data", {})
    if not isinstance(data, Mapping):
        raise ActionError("webhook: data must be a mapping")
    try:
        rendered = render_value(dict(data), o.facts)
    except TemplateError as exc:
        located = TemplateError(exc.missing, exc.invalid)
        located.args = (f"webhook: data: {exc}",)
        raise located from None
    shown = json.dumps(rendered, ensure_ascii=False, sort_keys=True, default=str)
    return Planned(
        "webhook",
        f"send webhook {kind}: {_short(shown)}",
        {"type": kind, "data": rendered, "subject": _fact(o.facts, "subject")},
    )


def _nonempty(o: Options, name: str, value: str) -> str:
    if not value.strip():
        raise ActionError(f"{o.kind}: {name} is empty once filled in")
    return value


def _fact(facts: Mapping[str, Any], name: str) -> Any:
    """A fact for a description, or None (a lookup that fails only loses the detail)."""
    try:
        return facts.get(name)
    except ConstellateError:
        return None


def _short(text: str, limit: int = DESCRIPTION_TEXT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# -- the ledger and outgoing webhooks -------------------------------------------------------


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def perform_credit(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    """One ledger entry per action key (the key is in its ref, so a retry adds none)."""
    contribution = Contribution(
        platform=str(params["platform"]),
        account=str(params["account"]),
        kind=str(params["kind"]),
        object=str(params["object"] or f"rule:{env.rule}"),
        ref=f"automation:{digest(env.key)[:32]}",
        weight=float(params["weight"]),
        occurred_at=env.now,
        rule=fit_key(f"automation:{env.rule}", 64),
    )
    added = credit(env.session, contribution)
    account = f"{contribution.platform} account {contribution.account}"
    verb = "credited" if added else "already credited"
    return Outcome(f"{verb} {account} with {contribution.weight:g}")


def perform_webhook(params: Mapping[str, Any], env: ActionEnv) -> Outcome:
    """Queue the webhook for the subscriptions that want its type; the event id comes
    from the action key, so a retry queues nothing new."""
    event = Event(
        event_id=f"automation:{digest(env.key)[:48]}",
        kind=str(params["type"]),
        source="community",
        subject=str(params.get("subject") or f"rule:{env.rule}"),
        actor=None,
        occurred_at=env.now,
        delivery_id=None,
        payload=dict(params["data"]),
    )
    queued = fan_out(env.session, event, env.settings)
    return Outcome(f"queued webhook {event.kind} for {queued} subscription(s)")


Planner = Callable[[Options, Settings], Planned]
Performer = Callable[[Mapping[str, Any], ActionEnv], Outcome]

PLANNERS: Mapping[str, Planner] = {
    "tag": _plan_tags,
    "untag": _plan_tags,
    "reply": _plan_reply,
    "create_topic": _plan_create_topic,
    "message": _plan_message,
    "wiki_section": _plan_wiki_section,
    "badge": _plan_badge,
    "credit": _plan_credit,
    "practice_stub": _plan_practice_stub,
    "webhook": _plan_webhook,
}
PERFORMERS: Mapping[str, Performer] = {
    "tag": forum_actions.perform_tag,
    "untag": forum_actions.perform_untag,
    "reply": forum_actions.perform_reply,
    "create_topic": forum_actions.perform_create_topic,
    "message": forum_actions.perform_message,
    "badge": forum_actions.perform_badge,
    "wiki_section": wiki_actions.perform_wiki_section,
    "practice_stub": wiki_actions.perform_practice_stub,
    "credit": perform_credit,
    "webhook": perform_webhook,
}
