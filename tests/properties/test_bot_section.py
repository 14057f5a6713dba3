"""Properties of the bot-owned section of a wiki page: people's text around the markers
is never changed, writing twice changes nothing, and what was written reads back.

The text pieces are built from fragments of the markers, wikitext and Unicode that
normalisation changes, so near-misses of the markers are common.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from community.bot_section import (
    ESCAPES,
    MOVED_NOTE,
    PAGE_MARKERS,
    Markers,
    escape,
    named_markers,
    replace_section,
    section_hash,
    write_bot_section,
)
from connectors.mediawiki.records import stored_form
from core.migrate import upgrade
from core.store import Store
from tests.conftest import SessionWiki
from tests.properties.support import ON_WIKI, PURE

FRAGMENTS = [
    "<!--",
    "-->",
    " constellate",
    ":begin",
    ":end",
    "<!-- constellate:other:begin -->",
    "<!-- constellate:other:end -->",
    "\n",
    " ",
    "== Heading ==",
    "[[Page]]",
    "{{T|x}}",
    "''",
    "é",
    "e\u0301",
    "ß",
    "\t",
]
PIECES = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=12).map(
    "".join
)
NAMES = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
MARKERS = st.one_of(st.just(PAGE_MARKERS), NAMES.map(named_markers))


def free_of(markers: Markers) -> st.SearchStrategy[str]:
    """People's text: anything that does not itself hold this section's markers."""
    return PIECES.filter(lambda text: markers.begin not in text and markers.end not in text)


def section_of(text: str, markers: Markers) -> str:
    begin = text.rindex(markers.begin) + len(markers.begin)
    return text[begin : text.index(markers.end, begin)]


@st.composite
def pages(draw: st.DrawFn) -> tuple[Markers, str, str, str, str]:
    """A section's markers, the text before and after it, what is inside, and new content."""
    markers = draw(MARKERS)
    text = free_of(markers)
    return markers, draw(text), draw(text), draw(text), draw(text)


@PURE
@given(page=pages(), ours=st.booleans())
@example(page=(PAGE_MARKERS, "a", "\n\nb", "old", "new"), ours=False)
def test_replacing_the_section_keeps_every_character_outside_it(
    page: tuple[Markers, str, str, str, str], ours: bool
) -> None:
    markers, before, after, old, inside = page
    text = f"{before}{markers.begin}{old}{markers.end}{after}"
    written = section_hash(old) if ours else None
    new, conflict = replace_section(text, inside, written, markers)
    body = f"{markers.begin}\n{inside}\n{markers.end}{after}"
    if conflict:
        # A person's edit inside the markers is kept: moved above them, under a note.
        assert not ours and old.strip() not in ("", inside.strip())
        assert new == f"{before}{MOVED_NOTE}\n{old.strip()}\n\n{body}"
    else:
        assert new == f"{before}{body}"
    assert section_of(new, markers) == f"\n{inside}\n"


@PURE
@given(page=pages(), ours=st.booleans())
def test_writing_the_same_content_twice_changes_nothing(
    page: tuple[Markers, str, str, str, str], ours: bool
) -> None:
    markers, before, after, old, inside = page
    text = f"{before}{markers.begin}{old}{markers.end}{after}"
    once, _ = replace_section(text, inside, section_hash(old) if ours else None, markers)
    for remembered in (section_hash(inside), None):
        assert replace_section(once, inside, remembered, markers) == (once, False)


@PURE
@given(page=pages())
def test_a_page_without_markers_gets_the_section_after_all_its_text(
    page: tuple[Markers, str, str, str, str],
) -> None:
    markers, before, _after, _old, inside = page
    new, conflict = replace_section(before, inside, None, markers)
    assert not conflict
    assert new.startswith(before)
    added = new[len(before) :]
    assert added.lstrip("\n") == f"{markers.begin}\n{inside}\n{markers.end}"
    assert section_of(new, markers) == f"\n{inside}\n"
    # A section always starts on a line of its own.
    assert new.index(markers.begin) == 0 or new[: new.index(markers.begin)].endswith("\n")


@PURE
@given(page=pages(), other=NAMES, other_inside=PIECES)
def test_another_named_section_is_left_alone(
    page: tuple[Markers, str, str, str, str], other: str, other_inside: str
) -> None:
    markers, before, after, old, inside = page
    theirs = named_markers(other)
    if theirs == markers:
        return
    kept = f"{theirs.begin}{other_inside}{theirs.end}"
    if markers.begin in kept or markers.end in kept:
        return
    text = f"{before}{kept}{markers.begin}{old}{markers.end}{after}"
    new, _ = replace_section(text, inside, section_hash(old), markers)
    assert new == f"{before}{kept}{markers.begin}\n{inside}\n{markers.end}{after}"


@PURE
@given(value=st.text(max_size=60))
@example(value="~~~~ [[x|]] {{subst:y}} __TOC__ <b>&amp;")
def test_escape_is_plain_text_that_reads_back(value: str) -> None:
    shown = escape(value)
    bare = re.sub(r"&#\d+;", "", shown)
    assert not set(bare) & set(ESCAPES), shown
    assert "\n" not in shown and shown == shown.strip()
    assert html.unescape(shown) == " ".join(value.split())


@PURE
@given(values=st.lists(st.text(max_size=30), max_size=6), page=pages())
def test_escaped_content_reads_back_between_the_markers(
    values: list[str], page: tuple[Markers, str, str, str, str]
) -> None:
    markers, before, after, old, _inside = page
    inside = "\n".join(f"* {escape(value)}" for value in values)
    text = f"{before}{markers.begin}{old}{markers.end}{after}"
    new, _ = replace_section(text, inside, section_hash(old), markers)
    lines = section_of(new, markers).strip("\n").split("\n") if values else []
    assert [html.unescape(line.removeprefix("* ")) for line in lines] == [
        " ".join(value.split()) for value in values
    ]


@PURE
@given(inside=st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | PIECES)
@example(inside="Cafe\u0301")  # found here: our hash differed from the kept text's
@example(inside="bell\x07")
def test_the_hash_of_what_we_write_is_the_hash_of_what_the_wiki_keeps(inside: str) -> None:
    kept = stored_form(inside)
    assert stored_form(kept) == kept
    assert section_hash(inside) == section_hash(kept) == section_hash(f"\n{kept}\n")


# -- against the real wiki: write_bot_section reads, writes and remembers -----------------

WIKI_TEXT = st.lists(
    st.sampled_from(["Some words.", "\n", "== Notes ==", "[[Main Page]]", "é", "e\u0301", " "]),
    max_size=6,
).map("".join)
WIKI_VALUES = st.lists(
    st.one_of(
        st.sampled_from(["Café", "Cafe\u0301", "~~~~", "[[x]]", "a\tb", "bell\x07"]),
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    ),
    max_size=4,
)


@pytest.fixture(scope="module")
def section_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path_factory.mktemp('sections') / 'store.db'}"
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


@pytest.mark.timeout(120)
@ON_WIKI
@given(
    before=WIKI_TEXT,
    after=WIKI_TEXT,
    old=st.one_of(st.none(), WIKI_TEXT),
    values=WIKI_VALUES,
)
@example(before="Intro", after="", old=None, values=["Cafe\u0301"])  # found here: badmd5
@example(before="Intro", after="", old=None, values=["bell\x07"])
def test_writing_a_section_on_the_wiki_twice_writes_once(
    wiki: SessionWiki,
    section_store: Store,
    before: str,
    after: str,
    old: str | None,
    values: list[str],
) -> None:
    bot = wiki.bot()
    title = wiki.title("Section property")
    start = (
        before if old is None else f"{before}\n{PAGE_MARKERS.begin}{old}{PAGE_MARKERS.end}{after}"
    )
    made = bot.edit(title, start or "-", summary="a person's page", mode="create")
    page = bot.read_pages([title])[title]
    inside = "\n".join(f"* {escape(value)}" for value in values)

    def write() -> str:
        with section_store.session() as session:
            return write_bot_section(
                session, bot, title=title, page_id=made.pageid, inside=inside, summary="prop"
            )

    first = write()
    written = bot.read_pages([title])[title]
    people = page.text
    if PAGE_MARKERS.begin in people:
        begin = people.rindex(PAGE_MARKERS.begin)
        head, tail = people[:begin], people[people.index(PAGE_MARKERS.end, begin) :]
        assert written.text.startswith(head) and written.text.endswith(tail)
    else:
        assert written.text.startswith(people)
    if first == "conflict":  # a person's words inside the markers were moved, not lost
        assert MOVED_NOTE in written.text
    assert section_of(written.text, PAGE_MARKERS) == f"\n{stored_form(inside)}\n"

    assert write() == "unchanged"
    assert bot.read_pages([title])[title].revid == written.revid
