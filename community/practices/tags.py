"""Forum tag names for practices, by Discourse's own rules (DiscourseTagging.clean_tag),
and the stable, collision-free mapping from a practice page to its tag."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Container

DEFAULT_MAX_LENGTH = 20  # Discourse's max_tag_length site setting
# Discourse's TAGS_FILTER_REGEXP: characters a tag never holds.
FILTERED = re.compile(r"[/?#\[\]@!$&'()*+,;=.%\\`^\s|{}\"<>]+")
# Ruby's [[:punct:]] also holds these ASCII symbols, which Unicode files under S*.
RUBY_PUNCT_SYMBOLS = set("$+<=>^`|~")
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class TagError(ValueError):
    """A name that Discourse would change or refuse as a tag."""


def clean_tag(name: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """The tag Discourse makes of ``name`` (lowercased), without leading/trailing "-"."""
    tag = re.sub(r"\s+", "-", name.lower().strip())
    tag = "".join(c for c in tag if _word_or_punct(c))
    # Filter, then squeeze (as Discourse does now): "a-.-b" is "a-b", not "a--b".
    tag = FILTERED.sub("", tag)
    tag = re.sub(r"-{2,}", "-", tag)
    return tag[:max_length].strip("-")


def check_tag(tag: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
    """Raise TagError unless ``tag`` is a tag Discourse keeps exactly as written."""
    if not tag:
        raise TagError("empty tag")
    if len(tag) > max_length:
        raise TagError(f"{tag!r} is longer than {max_length} characters")
    cleaned = clean_tag(tag, max_length=max_length)
    if cleaned != tag:
        raise TagError(
            f"{tag!r} is not a forum tag (lowercase letters, digits and '-'; "
            f"the forum would make it {cleaned!r})"
        )


def tag_for(title: str, page_id: int, *, max_length: int, taken: Container[str]) -> str:
    """The tag for a practice page: its cleaned title when that fits and is free;
    otherwise the title cut short plus "-" and the page id in base36, which no other
    practice can share (page ids are unique)."""
    whole = clean_tag(title, max_length=10_000)
    if whole and len(whole) <= max_length and whole not in taken:
        return whole
    # A tag made by people may already look like ours: fall back to longer digests.
    digest = hashlib.sha256(str(page_id).encode()).hexdigest()
    for extra in ("", digest[:4], digest[:8], digest[:16]):
        ending = base36(page_id) + extra
        room = max_length - len(ending) - 1  # for the stem before the "-"
        # Never cut the ending: that would make two pages' tags alike. With no room for
        # a stem, the ending alone (no "-") is still unique.
        tag = f"{(whole or 'practice')[:room].strip('-')}-{ending}" if room > 0 else ending
        if len(tag) <= max_length and tag not in taken:
            return tag
    raise TagError(f"no free tag for page {page_id} ({title!r})")


def base36(number: int) -> str:
    if number < 0:
        raise ValueError(f"page id must not be negative: {number}")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = BASE36[rest] + digits
        if not number:
            return digits


def readable_title(tag: str) -> str:
    """A page title for a tag people made ("rain-garden-day" -> "Rain garden day")."""
    words = " ".join(tag.replace("-", " ").replace("_", " ").split())
    return words[:1].upper() + words[1:]


def _word_or_punct(char: str) -> bool:
    if char in RUBY_PUNCT_SYMBOLS:
        return True
    category = unicodedata.category(char)
    return category[0] in "LNMP"
