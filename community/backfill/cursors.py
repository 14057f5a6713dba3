"""Where the backfill left off, per source, in core's ``SyncCursor`` table.

Each value is a small JSON object written in the same transaction as the rows of the
batch it follows, so a run stopped anywhere (even a killed process) resumes after the
last committed batch and never writes a row twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from core.models import SyncCursor

WIKI = "backfill.wiki"  # {"after": the last page id done, "done": bool}
POSTS = "backfill.forum.posts"  # {"before": next /posts.json page, "solved": [...], "done"}
LIKES = "backfill.forum.likes"  # {"likers": [[username, likes given], ...], "next": index}
SOURCES = (WIKI, POSTS, LIKES)

# A batch: a session whose work (rows and cursor) is committed together when it ends.
Batch = Callable[[], AbstractContextManager[Session]]


def read(session: Session, name: str) -> dict[str, Any]:
    row = session.get(SyncCursor, name)
    return dict(json.loads(row.value)) if row is not None else {}


def write(session: Session, name: str, value: dict[str, Any]) -> None:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    row = session.get(SyncCursor, name)
    if row is None:
        session.add(SyncCursor(name=name, value=text))
    else:
        row.value = text
    session.flush()


def is_done(session: Session, name: str) -> bool:
    return bool(read(session, name).get("done"))


def completed(session: Session, names: tuple[str, ...] = SOURCES) -> bool:
    """Whether every named source has been read to its beginning."""
    return all(is_done(session, name) for name in names)


def restart(session: Session, names: tuple[str, ...] = SOURCES) -> None:
    """Forget where the named sources were, so the next run reads them again (the rows
    it finds already written are kept once: every write is keyed)."""
    for name in names:
        row = session.get(SyncCursor, name)
        if row is not None:
            session.delete(row)
    session.flush()
