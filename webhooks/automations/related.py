"""The practices most related to what someone wrote: for a welcome reply that points a
newcomer at what other partners already do.

A practice is scored on its names (title, aliases, tag), which people tend to write
nearly as they are, and on how much of its summary the text covers. Below MIN_SCORE a
practice is not offered at all: no suggestion is better than an unrelated one.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.constellations.charter import page_url
from community.practices.models import Practice
from core.config import Settings
from webhooks.automations.templates import Trusted, escape_markdown

MIN_SCORE = 75.0
NAME_MIN_LENGTH = 4  # shorter names ("map") match inside too many unrelated words
WORD_SIMILARITY = 85.0  # a summary word counts as written when this close (plurals, typos)
MIN_SUMMARY_WORDS = 2  # one shared word says nothing about a whole summary
SUMMARY_LIMIT = 160
WORD = re.compile(r"\w{4,}")
# Frequent words that carry no topic (only words of 4 letters or more are compared).
# fmt: off
STOPWORDS = frozenset({
    "about", "after", "also", "been", "being", "could", "does", "doing", "each", "from",
    "have", "here", "into", "just", "like", "make", "many", "more", "most", "much", "must",
    "other", "over", "same", "should", "some", "such", "than", "that", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "very", "want", "were", "what",
    "when", "where", "which", "while", "will", "with", "would", "your", "yours", "ours",
})
# fmt: on


def related_practices(
    session: Session, settings: Settings, text: str, limit: int
) -> list[Practice]:
    """Up to ``limit`` practices of the registry related to ``text``, best first."""
    if limit <= 0 or not text.strip():
        return []
    processed = utils.default_process(text)
    words = _words(text)
    scored: list[tuple[float, Practice]] = []
    for practice in session.scalars(select(Practice).where(Practice.deleted_at.is_(None))):
        score = max(_name_score(practice, processed), _summary_score(practice, words))
        if score >= MIN_SCORE:
            scored.append((score, practice))
    scored.sort(key=lambda item: (-item[0], item[1].title.casefold()))
    return [practice for _, practice in scored[:limit]]


def related_markdown(
    session: Session, settings: Settings, text: str, limit: int | None = None
) -> Trusted:
    """A short Markdown list of the related practices (linked to their pages), or a
    sentence pointing at the practices category when none relates."""
    if limit is None:
        limit = int(settings["automations"]["welcome_practices"])
    found = related_practices(session, settings, text, limit)
    if not found:
        category = str(settings["practices"]["category"])
        label = escape_markdown(category.partition(":")[2] or category)
        return Trusted(
            "The practices partners share are collected on the wiki: "
            f"[{label}]({_link(page_url(settings, category))})."
        )
    lines = ["These practices may help:", ""]
    for practice in found:
        line = f"- [{escape_markdown(practice.title)}]({_link(page_url(settings, practice.title))})"
        summary = _shortened(practice.summary or "")
        if summary:
            line += f" — {escape_markdown(summary)}"
        lines.append(line)
    return Trusted("\n".join(lines))


def _name_score(practice: Practice, processed: str) -> float:
    names = [practice.title, *(practice.aliases or []), practice.tag.replace("-", " ")]
    best = 0.0
    for name in names:
        wanted = utils.default_process(str(name))
        if len(wanted) < NAME_MIN_LENGTH:
            continue
        # A name inside a longer text is found by the best matching stretch of it.
        if len(wanted) <= len(processed):
            score = fuzz.partial_ratio(wanted, processed)
        else:
            score = fuzz.ratio(wanted, processed)
        best = max(best, score)
    return best


def _summary_score(practice: Practice, words: set[str]) -> float:
    """The share of the summary's words the text has (0 when too few are shared)."""
    wanted = _words(practice.summary or "")
    if not wanted or not words:
        return 0.0
    choices = sorted(words)
    matched = sum(
        1
        for word in wanted
        if process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=WORD_SIMILARITY)
    )
    if matched < MIN_SUMMARY_WORDS:
        return 0.0
    return 100.0 * matched / len(wanted)


def _words(text: str) -> set[str]:
    return {word for word in WORD.findall(text.casefold()) if word not in STOPWORDS}


def _shortened(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_LIMIT else flat[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _link(url: str) -> str:
    """A URL that stays whole as a Markdown link target (titles may hold parentheses)."""
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
