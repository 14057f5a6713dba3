"""`constellate credits ...` (scores: export, explain, leaderboard; and the badge and
authorship commands) and `constellate people ...` (identity links, organisations,
opt-out)."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.credits import export, people
from community.credits.authorship import shares, surviving_tokens
from community.credits.badges import award_badges
from community.credits.models import CreditRescore, LinkSuggestion, Person, WikiAuthorship
from community.credits.rescore import RescoreError, rescore
from community.credits.rules import RulesVersion, load_rules
from community.credits.wiki_credit import update_page_credit
from connectors.discourse.client import ForumClient
from connectors.mediawiki import WikiClient
from core.command_context import configured_store
from core.config import Settings
from core.errors import ConfigError

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
PERSON_HELP = "PERSON is a person id, platform:username (wiki:Ana, forum:ana) or a username."
moderator_option = click.option(
    "--by", "moderator", default=getpass.getuser, show_default="your login name",
    help="the moderator deciding",
)  # fmt: skip


@contextmanager
def _session() -> Iterator[tuple[Settings, Session]]:
    """Settings and a session committed on success."""
    with configured_store() as (settings, store), store.session() as session:
        yield settings, session


# -- credits ------------------------------------------------------------------------------


@click.group("credits")
def credits_group() -> None:
    """Credit for contributors: scores from the ledger, badges and wiki authorship."""


@credits_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="default: stdout")
def credits_export(fmt: str, output: Path | None) -> None:
    """One row per person: name, accounts, organisation, total and per-kind totals.

    People who opted out are not listed; their credit is in one aggregate row."""
    with _session() as (_settings, session):
        text = export.export_csv(session) if fmt == "csv" else export.export_json(session)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        raise click.ClickException(f"--output {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}")


@credits_group.command("explain", epilog=PERSON_HELP)
@click.argument("person")
def credits_explain(person: str) -> None:
    """Every ledger row behind PERSON's score, counter-entries with their reason, and the
    total. Works for people who opted out too: it is their own data."""
    with _session() as (settings, session):
        found = people.find_person(session, person)
        accounts = [f"{a.platform}:{a.username}" for a in people.accounts_of(session, found)]
        lines, total = export.explain(session, found)
    name = found.name or accounts[0].split(":", 1)[1]
    click.echo(f"person {found.id} ({name}): {', '.join(accounts)}")
    if found.opted_out:
        click.echo("  (opted out of leaderboards and person-level exports)")
    for line in lines:
        when = line.occurred_at.isoformat(timespec="seconds")
        text = (
            f"  {when}  {line.platform}:{line.account}  {line.kind}  {line.object}  "
            f"ref {line.ref}  {line.weight:+g}  rule {line.rule}"
        )
        if line.rules_version:  # none: written before rules were dated, or by an automation
            text += f"  rules v{line.rules_version}"
        if line.cancels_key:
            text += f"  cancels an earlier entry: {line.reason}"
        click.echo(text)
    click.echo(f"total: {total:g}")
    used = {line.rules_version for line in lines if line.rules_version}
    if used:
        click.echo("rules versions:")
        for version in load_rules(settings).versions:
            if version.label in used:
                click.echo("  " + _version_line(version))


def _version_line(version: RulesVersion) -> str:
    starts = version.starts.isoformat() if version.starts else "the beginning"
    weights = ", ".join(f"{k} {v:g}" for k, v in version.weights.items())
    note = f" ({version.note})" if version.note else ""
    return f"v{version.label} from {starts}{note}: {weights}"


@credits_group.command("rules")
def credits_rules() -> None:
    """The credit rules versions, oldest first: when each starts and its weights."""
    with configured_store() as (settings, _store):
        versions = load_rules(settings).versions
    for version in versions:
        click.echo(_version_line(version))


@credits_group.command("rescore")
@click.option("--from", "start", type=click.DateTime(DATE_FORMATS), required=True)
@click.option("--to", "end", type=click.DateTime(DATE_FORMATS), help="default: now")
@click.option("--dry-run", is_flag=True, help="say what would change, change nothing")
@moderator_option
def credits_rescore(start: datetime, end: datetime | None, dry_run: bool, moderator: str) -> None:
    """Weigh again every contribution made from --from to --to (UTC) by the rules version
    in force when it was made; recorded with who asked. Only this command changes a
    score written before a rules version was added."""
    with _session() as (settings, session):
        try:
            done = rescore(
                session,
                load_rules(settings),
                period_from=_utc(start),
                period_to=_utc(end) if end else None,
                requested_by=moderator,
                dry_run=dry_run,
            )
        except RescoreError as exc:
            raise click.UsageError(str(exc)) from None
        lines = [_rescore_line(done)] + [f"  {_change_line(c)}" for c in done.changes]
        if dry_run:
            session.rollback()
    click.echo(("would rescore: " if dry_run else "") + "\n".join(lines))


@credits_group.command("rescores")
def credits_rescores() -> None:
    """Every rescore a moderator ran, newest first."""
    with _session() as (_settings, session):
        found = session.scalars(select(CreditRescore).order_by(CreditRescore.id.desc()))
        lines = []
        for done in found:
            lines.append(_rescore_line(done))
            lines += [f"  {_change_line(c)}" for c in done.changes]
    click.echo("\n".join(lines) if lines else "no rescores")


def _rescore_line(done: CreditRescore) -> str:
    who = f"rescore {done.id}" if done.id else "rescore"
    return (
        f"{who} by {done.requested_by} at {done.requested_at:%Y-%m-%d %H:%M} UTC: "
        f"{done.period_from:%Y-%m-%d %H:%M} to {done.period_to:%Y-%m-%d %H:%M}, "
        f"{done.rows} rows"
    )


def _change_line(change: dict[str, Any]) -> str:
    old = f"v{change['from']}" if change["from"] else "(before dated rules)"
    return f"{old} -> v{change['to']}: {change['rows']} rows, {change['points']:+g} points"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@credits_group.command("leaderboard")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
def credits_leaderboard(limit: int) -> None:
    """The people with the most credit; people who opted out are left out."""
    with _session() as (_settings, session):
        board = export.leaderboard(session, limit)
    for rank, p in enumerate(board, start=1):
        organisation = f" ({p.organisation})" if p.organisation else ""
        click.echo(f"{rank:>3}. {p.name}{organisation}: {p.total:g}")
    if not board:
        click.echo("no credit recorded yet")


# -- people -------------------------------------------------------------------------------


@credits_group.command("badges")
def credits_badges() -> None:
    """Grant the forum badges people have earned (each once), and list the new grants."""
    with configured_store() as (settings, store):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to grant badges on")
        wiki = WikiClient(settings["wiki"]) if settings["wiki"].get("url") else None
        with store.session() as session:
            grants = award_badges(session, ForumClient(settings["forum"]), settings, wiki=wiki)
            lines = [f"  {g.badge}: {g.username}" for g in grants]
    click.echo(f"badges granted: {len(lines)}")
    for line in lines:
        click.echo(line)


@credits_group.command("authorship")
@click.argument("page")
def credits_authorship(page: str) -> None:
    """Who wrote the surviving text of PAGE (brought up to date first), largest share first."""
    with configured_store() as (settings, store):
        wiki = WikiClient(settings["wiki"])
        found = wiki.read_pages([page])[page]
        if not found.exists or found.pageid is None:
            raise click.ClickException(f"{page}: no such page on the wiki")
        with store.session() as session:
            update_page_credit(session, wiki, settings, title=found.title, page_id=found.pageid)
            row = session.get(WikiAuthorship, found.pageid)
            state = row.state if row is not None else None
    if state is None:
        raise click.ClickException(f"{page}: no revisions to attribute")
    tokens, share = surviving_tokens(state), shares(state)
    total = len(state["tokens"])
    click.echo(f"{found.title}: {total} tokens as of revision {state['revid']}")
    for author in sorted(tokens, key=lambda a: (-tokens[a], a.casefold())):
        click.echo(f"  {author}: {tokens[author]} tokens ({share[author]:.1%})")


@click.group("people")
def people_group() -> None:
    """People and their wiki and forum accounts: link suggestions and decisions."""


@people_group.command("suggest")
def people_suggest() -> None:
    """Read both platforms' accounts and list new link suggestions with their reasons."""
    with _session() as (settings, session):
        if not settings["forum"].get("url"):
            raise ConfigError("[forum] url is not set: there is no forum to read people from")
        made = people.suggest_links(
            session, WikiClient(settings["wiki"]), ForumClient(settings["forum"])
        )
        lines = [_suggestion_line(s) for s in made]
        waiting = len(people.open_suggestions(session))
    click.echo(f"new suggestions: {len(lines)} (open: {waiting})")
    for line in lines:
        click.echo(line)


@people_group.command("link")
@click.argument("suggestion_id", required=False, type=int)
@click.option("--wiki", "wiki_name", metavar="USERNAME")
@click.option("--forum", "forum_name", metavar="USERNAME")
@moderator_option
def people_link(
    suggestion_id: int | None, wiki_name: str | None, forum_name: str | None, moderator: str
) -> None:
    """Make a wiki account and a forum account one person: SUGGESTION_ID, or --wiki and
    --forum for a pair that was never suggested."""
    _decide(people.link, suggestion_id, wiki_name, forum_name, moderator, "linked")


@people_group.command("reject")
@click.argument("suggestion_id", required=False, type=int)
@click.option("--wiki", "wiki_name", metavar="USERNAME")
@click.option("--forum", "forum_name", metavar="USERNAME")
@moderator_option
def people_reject(
    suggestion_id: int | None, wiki_name: str | None, forum_name: str | None, moderator: str
) -> None:
    """Say a suggested pair is two people; it is never suggested again."""
    _decide(people.reject, suggestion_id, wiki_name, forum_name, moderator, "rejected")


def _decide(
    action: Callable[[Session, people.Pair, str], LinkSuggestion],
    suggestion_id: int | None,
    wiki_name: str | None,
    forum_name: str | None,
    moderator: str,
    verb: str,
) -> None:
    if (suggestion_id is None) == (wiki_name is None and forum_name is None):
        raise click.UsageError("give a SUGGESTION_ID, or both --wiki and --forum")
    if suggestion_id is None and not (wiki_name and forum_name):
        raise click.UsageError("--wiki and --forum go together")
    target: people.Pair = (
        suggestion_id if suggestion_id is not None else (str(wiki_name), str(forum_name))
    )
    with _session() as (_settings, session):
        done = action(session, target, moderator)
        line = f"{verb}: wiki:{done.wiki_username} / forum:{done.forum_username}"
    click.echo(line)


@people_group.command("unlink")
@click.argument("platform", type=click.Choice(people.PLATFORMS))
@click.argument("username")
@moderator_option
def people_unlink(platform: str, username: str, moderator: str) -> None:
    """Give PLATFORM's USERNAME a person of its own again (its links count as rejected)."""
    with _session() as (_settings, session):
        account = people.unlink(session, platform, username, moderator)
        person_id = account.person_id
    click.echo(f"unlinked: {platform}:{username} is person {person_id}")


@people_group.command("list")
@click.option("--open", "only_open", is_flag=True, help="only the open suggestions")
def people_list(only_open: bool) -> None:
    """People with their accounts and organisation, then the open link suggestions."""
    with _session() as (_settings, session):
        lines = [] if only_open else _people_lines(session)
        suggestions = [_suggestion_line(s) for s in people.open_suggestions(session)]
    for line in lines:
        click.echo(line)
    click.echo(f"open suggestions: {len(suggestions)}")
    for line in suggestions:
        click.echo(line)


@people_group.command("affiliate", epilog=PERSON_HELP)
@click.argument("person")
@click.argument("organisation")
@moderator_option
def people_affiliate(person: str, organisation: str, moderator: str) -> None:
    """Set PERSON's ORGANISATION (kept over what forum groups say)."""
    with _session() as (_settings, session):
        found = people.find_person(session, person)
        people.set_organisation(session, found, organisation, moderator)
        person_id = found.id
    click.echo(f"person {person_id}: organisation {organisation.strip()}")


@people_group.command("opt-out", epilog=PERSON_HELP)
@click.argument("person")
@click.option("--undo", is_flag=True, help="list the person again")
def people_opt_out(person: str, undo: bool) -> None:
    """Leave PERSON out of leaderboards and person-level exports (their credit still
    counts in the aggregate figures)."""
    with _session() as (_settings, session):
        found = people.find_person(session, person)
        people.set_opt_out(session, found, not undo)
        person_id = found.id
    click.echo(f"person {person_id}: " + ("listed again" if undo else "opted out"))


def _people_lines(session: Session) -> list[str]:
    lines = []
    for person in session.scalars(select(Person).order_by(Person.id)):
        accounts = ", ".join(
            f"{a.platform}:{a.username}" for a in people.accounts_of(session, person)
        )
        extra = f" [{person.organisation}]" if person.organisation else ""
        extra += " (opted out)" if person.opted_out else ""
        lines.append(f"{person.id:>5}  {person.name or '-'}{extra}: {accounts}")
    return lines


def _suggestion_line(s: LinkSuggestion) -> str:
    return f"  #{s.id} wiki:{s.wiki_username} <-> forum:{s.forum_username} ({', '.join(s.reasons)})"
