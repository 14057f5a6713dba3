"""`constellate outgoing ...`: look at outgoing messages, their attempts, and replay them."""

from __future__ import annotations

import click
from sqlalchemy import select

from core.command_context import configured_store
from webhooks.outgoing.delivery import replay as replay_message
from webhooks.outgoing.models import MESSAGE_STATES, DeliveryAttempt, OutgoingMessage


@click.group("outgoing")
def outgoing() -> None:
    """Outgoing webhooks: messages, attempts, replay."""


@outgoing.command("list")
@click.option("--state", type=click.Choice(MESSAGE_STATES), help="only messages in this state")
@click.option("--limit", default=50, show_default=True)
def list_messages(state: str | None, limit: int) -> None:
    """The newest outgoing messages."""
    query = select(OutgoingMessage).order_by(OutgoingMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutgoingMessage.state == state)
    with configured_store() as (_settings, store), store.session() as session:
        for m in session.scalars(query):
            status = m.last_status if m.last_status is not None else "-"
            click.echo(
                f"{m.msg_id}  {m.state:<9}  {m.event_kind:<24}  attempts={m.attempts}  "
                f"last={status}  next={m.next_attempt_at.isoformat()}  {m.last_error or ''}"
            )


@outgoing.command("replay")
@click.argument("message_id")
def replay(message_id: str) -> None:
    """Send a failed (or delivered) message again, with the same webhook-id."""
    with configured_store() as (_settings, store), store.session() as session:
        if not replay_message(session, message_id):
            raise click.ClickException(
                f"{message_id}: no such message, or it is still pending or in flight"
            )
    click.echo(f"{message_id}: queued again")


@outgoing.command("attempts")
@click.argument("message_id")
def attempts(message_id: str) -> None:
    """Every delivery attempt of one message (its msg_… id or number)."""
    with configured_store() as (_settings, store), store.session() as session:
        if message_id.startswith("msg_"):
            where = OutgoingMessage.msg_id == message_id
        else:
            where = OutgoingMessage.id == (int(message_id) if message_id.isdigit() else -1)
        message = session.scalars(select(OutgoingMessage).where(where)).first()
        if message is None:
            raise click.ClickException(f"{message_id}: no such message")
        rows = session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message.id)
            .order_by(DeliveryAttempt.id)
        )
        for a in rows:
            status = a.status if a.status is not None else "-"
            click.echo(
                f"{a.attempted_at.isoformat()}  status={status}  {a.duration_ms} ms  "
                f"{a.error or 'ok'}  {(a.response_snippet or '')[:80]!r}"
            )
