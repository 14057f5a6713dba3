"""What the forum side of a constellation should look like, rendered from its charter.

Everything Constellate writes to the forum for one constellation (category, charter
topic title, first post, tags, closed and read-only state) is rendered here, and its
hash decides whether anything needs writing at all.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from community.constellations.charter import Charter, page_url

CATEGORY_NAME_MAX = 50  # Discourse's Category name length limit
TOPIC_TITLE_MAX = 255
DORMANT_NOTICE = (
    "> **This constellation is dormant.** It is not meeting at the moment; "
    "the page on the wiki says when it picks up again."
)
STATUS_TAG_PREFIX = "status-"


@dataclass(frozen=True)
class ForumView:
    """The forum side of one constellation, as it should be."""

    parent_category: str
    category_name: str
    category_description: str
    topic_title: str
    post: str
    tags: tuple[str, ...]
    closed: bool  # sunset closes the charter topic
    read_only: bool  # and, when configured, makes the category read-only for non-staff

    @property
    def hash(self) -> str:
        encoded = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def render(settings: Any, charter: Charter) -> ForumView:
    options = settings["constellations"]
    sunset = charter.status == "sunset"
    return ForumView(
        parent_category=category_name(str(options["parent_category"])),
        category_name=category_name(charter.forum_category or charter.title),
        category_description=charter.goal,
        topic_title=topic_title(charter.title),
        post=render_post(settings, charter),
        tags=(STATUS_TAG_PREFIX + charter.status,),
        closed=sunset,
        read_only=sunset and bool(options.get("read_only_on_sunset")),
    )


def render_post(settings: Any, charter: Charter) -> str:
    """The charter post in Markdown, one fact per paragraph: merge3 treats changes on
    touching lines as one conflict, so a blank line between facts keeps a person's edit
    of one fact mergeable with a wiki change of another."""
    link = page_url(settings, charter.title)
    paragraphs = [DORMANT_NOTICE] if charter.status == "dormant" else []
    paragraphs += [
        f"**Goal:** {markdown_text(charter.goal)}",
        f"**Lead partner:** {markdown_text(charter.lead_partner)}{_since(charter)}",
        f"**Partners:** {markdown_text(', '.join(charter.partners))}",
        f"**Stewards:** {markdown_text(', '.join(charter.stewards)) or '—'}",
        f"**Status:** {charter.status}",
        f"**Beat:** {charter.beat}",
        f"**Term:** {_term(charter)}",
        f"This charter mirrors the wiki page [{markdown_text(charter.title)}]({link}); "
        "change it there.",
    ]
    return "\n\n".join(paragraphs)


# Wiki text must stay text in the bot's post: no mentions that notify from our account,
# no images or links to outside servers, no HTML or BBCode.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>@#|!~])")


def markdown_text(value: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def category_name(name: str) -> str:
    """A Discourse category name: one line, no surrounding space, at most 50 characters."""
    return " ".join(name.split())[:CATEGORY_NAME_MAX].rstrip()


def topic_title(title: str) -> str:
    # Long enough for Discourse's minimum title length whatever the page is called.
    return f"Charter of the {title} constellation"[:TOPIC_TITLE_MAX]


def _since(charter: Charter) -> str:
    return f" (since {charter.lead_since.isoformat()})" if charter.lead_since else ""


def _term(charter: Charter) -> str:
    start = charter.started.isoformat() if charter.started else "?"
    end = charter.term_end.isoformat() if charter.term_end else "open-ended"
    return f"{start} to {end}"
