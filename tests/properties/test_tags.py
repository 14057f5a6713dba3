"""Properties of the forum tags made for practices (Discourse's tag rules).

What a kept tag may hold is written here from Discourse's rules, not from our module:
no whitespace, none of the characters of Discourse's TAGS_FILTER_REGEXP, only letters,
digits, marks and punctuation (Ruby's [[:word:][:punct:]], of whose ASCII symbols only
"~" survives the filter), lowercase, no "--" and no "-" at either end.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from community.practices.tags import TagError, base36, check_tag, clean_tag, readable_title, tag_for
from tests.properties.support import PURE

FILTERED = set("/?#[]@!$&'()*+,;=.%\\`^|{}\"<>")
# Titles: any text, weighted towards what makes tags interesting.
TRICKY = "-- .-.,/?#!~_ \t\n\u00a0\u2028İßǅÉé\u0301a1Z"
TITLES = st.one_of(
    st.text(max_size=60),
    st.text(st.sampled_from(TRICKY), max_size=40),
    st.text(st.characters(codec="ascii"), max_size=40),
)
LENGTHS = st.integers(5, 100)  # what the config schema allows for max_tag_length
PAGE_IDS = st.integers(0, 10**9)


def assert_kept_by_discourse(tag: str, max_length: int) -> None:
    assert 0 < len(tag) <= max_length
    assert tag == tag.lower()
    assert "--" not in tag and not tag.startswith("-") and not tag.endswith("-")
    for char in tag:
        assert not char.isspace() and char not in FILTERED, (tag, char)
        assert unicodedata.category(char)[0] in "LNMP" or char == "~", (tag, char)


@PURE
@given(title=TITLES, max_length=LENGTHS)
@example(title="a-.-b", max_length=20)  # found here: filtering "." left "a--b"
@example(title="x -!- y", max_length=20)
def test_clean_tag_makes_a_tag_discourse_keeps(title: str, max_length: int) -> None:
    tag = clean_tag(title, max_length=max_length)
    assert clean_tag(tag, max_length=max_length) == tag
    if tag:
        assert_kept_by_discourse(tag, max_length)
        check_tag(tag, max_length=max_length)


@PURE
@given(title=st.text(st.characters(codec="ascii"), max_size=60))
def test_clean_tag_keeps_every_letter_and_digit_of_an_ascii_title(title: str) -> None:
    kept = re.sub(r"[-_:~]", "", clean_tag(title, max_length=10_000))
    assert kept == "".join(re.findall(r"[a-z0-9]+", title.lower()))


@PURE
@given(tag=st.text(max_size=30), max_length=LENGTHS)
def test_check_tag_accepts_exactly_what_cleaning_keeps(tag: str, max_length: int) -> None:
    try:
        check_tag(tag, max_length=max_length)
    except TagError:
        assert not tag or clean_tag(tag, max_length=max_length) != tag
    else:
        assert clean_tag(tag, max_length=max_length) == tag
        assert_kept_by_discourse(tag, max_length)


@PURE
@given(title=TITLES, page_id=PAGE_IDS, max_length=LENGTHS, taken=st.sets(st.text(max_size=8)))
def test_tag_for_is_a_free_kept_tag_and_deterministic(
    title: str, page_id: int, max_length: int, taken: set[str]
) -> None:
    assume(len(base36(page_id)) <= max_length)
    tag = tag_for(title, page_id, max_length=max_length, taken=taken)
    assert tag not in taken
    assert_kept_by_discourse(tag, max_length)
    assert tag == tag_for(title, page_id, max_length=max_length, taken=set(taken))


@PURE
@given(title=TITLES, page_id=PAGE_IDS, max_length=LENGTHS)
@example(title="", page_id=1296, max_length=5)
def test_tag_for_never_hands_out_a_taken_tag(title: str, page_id: int, max_length: int) -> None:
    """Taking each answer in turn: every answer is new, until a clear TagError."""
    assume(len(base36(page_id)) <= max_length)
    taken: set[str] = set()
    for _ in range(6):
        try:
            tag = tag_for(title, page_id, max_length=max_length, taken=taken)
        except TagError as exc:
            assert str(page_id) in str(exc)
            break
        assert tag not in taken
        assert_kept_by_discourse(tag, max_length)
        taken.add(tag)
    else:
        pytest.fail(f"six different tags for one page: {sorted(taken)}")
    whole = clean_tag(title, max_length=10_000)
    # The title's own tag when it fits, then at least the one ending in the page id.
    assert len(taken) >= (2 if whole and len(whole) <= max_length else 1)


@PURE
@given(title=TITLES, first=PAGE_IDS, second=PAGE_IDS, max_length=LENGTHS)
# Found here: the id suffix was cut to fit, so both pages got "x-100".
@example(title="x", first=46656, second=46657, max_length=5)
def test_pages_sharing_a_taken_title_get_different_tags(
    title: str, first: int, second: int, max_length: int
) -> None:
    """Once the title's own tag is taken, the page id tells the pages apart by itself:
    neither needs to know the other's tag."""
    assume(first != second)
    assume(max(len(base36(first)), len(base36(second))) <= max_length)
    whole = clean_tag(title, max_length=10_000)
    taken = {whole} if whole and len(whole) <= max_length else set()
    a = tag_for(title, first, max_length=max_length, taken=taken)
    b = tag_for(title, second, max_length=max_length, taken=taken)
    assert a != b
    assert tag_for(title, second, max_length=max_length, taken=taken | {a}) == b


@PURE
@given(number=st.integers(0, 10**30))
def test_base36_round_trips(number: int) -> None:
    digits = base36(number)
    assert int(digits, 36) == number
    assert re.fullmatch(r"0|[1-9a-z][0-9a-z]*", digits)


@PURE
@given(number=st.integers(max_value=-1))
def test_base36_refuses_negative_numbers(number: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        base36(number)


@PURE
@given(tag=st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,4}", fullmatch=True))
def test_readable_title_of_a_plain_tag_cleans_back_to_it(tag: str) -> None:
    title = readable_title(tag)
    assert "-" not in title and title == " ".join(title.split())
    assert title[:1] == title[:1].upper()
    assert clean_tag(title, max_length=len(tag)) == tag


@PURE
@given(tag=st.text(max_size=40))
def test_readable_title_is_tidy_text(tag: str) -> None:
    title = readable_title(tag)
    assert "-" not in title and "_" not in title
    assert title == " ".join(title.split())
