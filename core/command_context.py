"""What a command that works without the app needs: settings, redacted logs, a store.

Our own errors (a bad configuration, a platform that refuses) end the command with one
line here, so every command gets it whichever entry point runs it (`constellate` or
`flask --app service.app`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from core import forum_budget, logs, wakeup
from core.config import Settings, load_config
from core.errors import ConfigError, ConstellateError
from core.forum_budget_ledgers import budget_for
from core.store import Store


@contextmanager
def configured_store() -> Iterator[tuple[Settings, Store]]:
    try:
        settings = load_config()
        logs.configure(settings)  # commands log too: secrets are redacted there as well
        wakeup.configure(settings)  # what a command records, workers hear of at once
        store = Store(settings["store"]["url"])
        try:
            with forum_budget.using(budget_for(settings, store)):
                yield settings, store
        finally:
            store.dispose()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None
    except ConstellateError as exc:
        raise click.ClickException(str(exc)) from None
