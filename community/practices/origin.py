"""Which partner organisations a forum user belongs to, as the forum's groups say.

Practices ask the forum (scoring a candidate topic, naming a promoted practice's origin);
the wiki sections read the store instead (``wiki_section.organisations``), as they run
for every busy page. Reading these from the store too would spare the forum budget.
"""

from __future__ import annotations

from connectors.discourse import ForumClient
from core.errors import NotFound


def forum_organisations(forum: ForumClient, username: str) -> tuple[str, ...]:
    """The person's non-automatic forum groups, by full name."""
    try:
        user = forum.get_user(username)
    except NotFound:
        return ()
    groups = user.data.get("groups") or []
    names = {
        str(group.get("full_name") or group["name"])
        for group in groups
        if not group.get("automatic")
    }
    return tuple(sorted(names, key=str.lower))
