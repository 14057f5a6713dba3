"""The example partnership on the sandbox wiki: its eighteen months of history (a page per
partner organisation, per constellation and per shared practice), imported with
MediaWiki's own ``importDump.php``.

Only pages that are missing are imported, so a person's later edits are never overwritten
and seeding again adds nothing. The people who wrote the history get local accounts
first: the importer gives a revision to the local user of its name, and one with no
local user only to an ``imported>`` name that nobody can link or credit.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sandbox.example_data import EXAMPLE, Partnership
from sandbox.wiki import SandboxError, WikiSandbox
from sandbox.wiki_history import PlannedPage, export_xml, plan_history

# Read with MediaWiki's sql.php; titles as the database keeps them ("_" for spaces).
TITLES = "SELECT page_title AS name FROM /*_*/page WHERE page_namespace = 0"
USERS = "SELECT user_name AS name FROM /*_*/user"


@dataclass(frozen=True)
class WikiSeedReport:
    constellations_created: int = 0
    practices_created: int = 0
    partners_created: int = 0
    revisions: int = 0
    editors: int = 0


def seed_wiki(sandbox: WikiSandbox, now: datetime, data: Partnership = EXAMPLE) -> WikiSeedReport:
    """Import the history of the example's pages the wiki does not have yet, as of ``now``."""
    existing = _names(sandbox, TITLES)
    missing = [
        page for page in plan_history(data, now) if page.title.replace(" ", "_") not in existing
    ]
    if not missing:
        return WikiSeedReport()
    ensure_accounts(sandbox, missing)
    sandbox.run_maintenance("importDump.php", stdin=export_xml(missing))
    # The importer leaves the wiki's statistics alone: they count the history too.
    sandbox.run_maintenance("initSiteStats.php", "--update")
    made = [page.kind for page in missing]
    return WikiSeedReport(
        constellations_created=made.count("constellation"),
        practices_created=made.count("practice"),
        partners_created=made.count("partner"),
        revisions=sum(len(page.revisions) for page in missing),
        editors=len({r.user for page in missing for r in page.revisions}),
    )


def ensure_accounts(sandbox: WikiSandbox, pages: Iterable[PlannedPage]) -> None:
    """Local accounts for the people who edit ``pages``, as the wiki would show them:
    registered the day before their first edit, their edits counted (the importer counts
    none). One maintenance run for all: a run each would take seconds. The accounts have
    no password: nobody logs in as the example's people."""
    edits: dict[str, list[datetime]] = {}
    for page in pages:
        for revision in page.revisions:
            edits.setdefault(revision.user, []).append(revision.at)
    registered = _names(sandbox, USERS)
    lines = [
        f"User::createNew(base64_decode('{_base64(name)}'), ['editcount' => {len(times)}, "
        f"'registration' => '{(min(times) - timedelta(days=1)).astimezone(UTC):%Y%m%d%H%M%S}']);"
        for name, times in sorted(edits.items())
        if name not in registered
    ]
    if not lines:
        return
    # eval.php runs each line of its input as PHP (a line each keeps under its line limit).
    output = sandbox.run_maintenance("eval.php", stdin="\n".join(lines) + "\n")
    missing = set(edits) - _names(sandbox, USERS)
    if missing:
        raise SandboxError(f"wiki accounts not created: {', '.join(sorted(missing))}\n{output}")


def _names(sandbox: WikiSandbox, query: str) -> set[str]:
    rows = json.loads(sandbox.run_maintenance("sql.php", "--json", "--query", query) or "[]")
    return {str(row["name"]) for row in rows}


def _base64(text: str) -> str:
    """Text to hand to PHP inside quotes without any escaping question."""
    return base64.b64encode(text.encode()).decode("ascii")
