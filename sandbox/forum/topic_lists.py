"""Topic lists (/latest, /c/…, /tag/…) as ListController and TopicQuery page them.

Pages are 0-based and ``per_page`` long (30, SiteSetting.topics_per_page, unless the
request asks for another size). ``more_topics_url`` is only sent when the page is full
(TopicListSerializer#include_more_topics_url?) and is built like ListController's
``construct_url_with(:next, list_opts)``: the list's path without ``.json`` and a query of
the request's list options plus the next page, keys sorted as Rails' ``to_query`` sorts
them. /latest adds ``no_definitions=true`` itself, so a first page asked for with
``order=activity&ascending=false`` links to
``/latest?ascending=false&no_definitions=true&order=activity&page=1``, which answers the
next page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sandbox.forum.serial_people import user_list_entry
from sandbox.forum.serial_topics import topic_like_count, topic_list_item
from sandbox.forum.visibility import public_topic

if TYPE_CHECKING:
    from sandbox.forum.state import Forum

PER_PAGE = 30
# The TopicQuery options the sandbox honours, kept in continuation links.
KEPT_OPTIONS = ("ascending", "no_definitions", "no_subcategories", "order", "per_page")
# TopicQuery#apply_ordering: what each ``order`` sorts by (default and "activity": bump).
ORDERS: dict[str, Callable[[Forum, dict[str, Any]], Any]] = {
    "activity": lambda forum, t: t["bumped_at"],
    "default": lambda forum, t: t["bumped_at"],
    "created": lambda forum, t: t["created_at"],
    "posts": lambda forum, t: t["posts_count"],
    "views": lambda forum, t: t.get("views", 0),
    "likes": lambda forum, t: topic_like_count(forum, t),
}


def list_options(args: dict[str, str]) -> dict[str, str]:
    """The request's list options (unknown parameters are not list options and drop out)."""
    options = {k: str(args[k]) for k in KEPT_OPTIONS if args.get(k) not in (None, "")}
    if options.get("order") not in (None, *ORDERS):
        del options["order"]
    per_page = options.get("per_page", "")
    if per_page and not (per_page.isdigit() and int(per_page) > 0):
        del options["per_page"]
    return options


def page_number(args: dict[str, str]) -> int:
    text = str(args.get("page") or "0")
    return int(text) if text.isdigit() else 0


def topic_list(
    forum: Forum,
    user: dict[str, Any] | None,
    keep: Callable[[dict[str, Any]], bool],
    base_path: str,
    options: dict[str, str],
    page: int,
) -> dict[str, Any]:
    """One page of the topics ``keep`` selects, with the side-loaded users."""
    topics = [t for t in forum.table("topics").values() if public_topic(forum, t, user) and keep(t)]
    order = options.get("order")
    ascending = options.get("ascending", "").lower() == "true"
    by = ORDERS[order or "default"]
    if order:
        topics.sort(key=lambda t: (by(forum, t), t["id"]), reverse=not ascending)
    else:
        # Without an order, globally pinned topics come first, then the latest bumped.
        topics.sort(
            key=lambda t: (bool(t.get("pinned_globally")), by(forum, t), t["id"]), reverse=True
        )
    per_page = int(options.get("per_page") or PER_PAGE)
    chunk = topics[page * per_page : (page + 1) * per_page]
    items = [topic_list_item(forum, t) for t in chunk]
    user_ids = sorted({p["user_id"] for item in items for p in item["posters"]})
    users = forum.table("users")
    body: dict[str, Any] = {
        "can_create_topic": user is not None,
        "per_page": per_page,
        "top_tags": [],
        "topics": items,
    }
    if len(chunk) == per_page:
        query = urlencode(sorted({**options, "page": str(page + 1)}.items()))
        body["more_topics_url"] = f"{base_path}?{query}"
    return {
        "users": [user_list_entry(users[i]) for i in user_ids if i in users],
        "primary_groups": [],
        "flair_groups": [],
        "topic_list": body,
    }
