"""Authorship by surviving text, on hand-made revision lists with hand-computed counts."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from community.credits.authorship import (
    REVERT_WINDOW,
    AuthorshipError,
    advance,
    new_state,
    shares,
    surviving_tokens,
    tokenise,
)


@dataclass(frozen=True)
class Rev:
    revid: int
    user: str | None
    text: str | None
    sha1: str | None = None


TEN = "one two three four five six seven eight nine ten"
# B rewrites four of A's words (three..six) and adds six of its own at the end.
B_TEXT = "one two tres cuatro cinco seis seven eight nine ten b1 b2 b3 b4 b5 b6"


def test_tokens_are_words_and_punctuation() -> None:
    assert tokenise("A [[link]], ok.\n\n== H ==") == [
        "A", "[", "[", "link", "]", "]", ",", "ok", ".", "=", "=", "H", "=", "=",
    ]  # fmt: skip


def test_rewrite_revert_and_edit_match_a_hand_computed_expectation() -> None:
    state = advance(new_state(), [Rev(1, "A", TEN)])
    assert surviving_tokens(state) == {"A": 10}

    state = advance(state, [Rev(2, "B", B_TEXT)])
    # A keeps 6 of 10; B has its 4 rewritten words and 6 new ones.
    assert surviving_tokens(state) == {"A": 6, "B": 10}
    assert shares(state) == {"A": 6 / 16, "B": 10 / 16}

    # C reverts B: A's ten words are A's again, B has nothing, C gains nothing.
    state = advance(state, [Rev(3, "C", TEN)])
    assert surviving_tokens(state) == {"A": 10}

    # D deletes "ten" and adds five words after "five".
    d_text = "one two three four five d1 d2 d3 d4 d5 six seven eight nine"
    state = advance(state, [Rev(4, "D", d_text)])
    assert surviving_tokens(state) == {"A": 9, "D": 5}
    assert shares(state) == {"A": 9 / 14, "D": 5 / 14}
    assert state["revid"] == 4 and state["first_revid"] == 1 and state["creator"] == "A"


def test_incremental_equals_whole_history_and_state_is_json() -> None:
    history = [
        Rev(1, "A", TEN),
        Rev(2, "B", B_TEXT),
        Rev(5, "C", TEN + " c1 c2"),
        Rev(9, "B", B_TEXT),  # B reverts C back to its own text
    ]
    whole = advance(new_state(), history)
    step = new_state()
    for cut in range(1, len(history) + 1):
        # Overlapping ranges (the last revision again) are skipped, as a resume passes them.
        step = json.loads(json.dumps(advance(step, history[max(0, cut - 2) : cut])))
    assert step == whole
    assert surviving_tokens(whole) == {"A": 6, "B": 10}


def test_hidden_users_and_hidden_content() -> None:
    state = advance(new_state(), [Rev(1, None, "a b c"), Rev(2, "A", None), Rev(3, "A", "a b c d")])
    assert surviving_tokens(state) == {"A": 1}
    assert shares(state) == {"A": 0.25}
    assert state["revid"] == 3 and state["creator"] is None


def test_reverts_are_remembered_for_a_bounded_window() -> None:
    revisions = [Rev(1, "A", "base")]
    revisions += [Rev(i + 2, "B", f"base w{i}") for i in range(REVERT_WINDOW + 5)]
    state = advance(new_state(), revisions)
    assert len(state["recent"]) == REVERT_WINDOW
    # The first revision is out of the window: its text comes back as an ordinary edit.
    state = advance(state, [Rev(999, "C", "base")])
    assert surviving_tokens(state) == {"A": 1}


def test_a_foreign_state_is_refused() -> None:
    with pytest.raises(AuthorshipError, match="version"):
        surviving_tokens({"tokens": []})
    broken = new_state() | {"tokens": ["x"]}
    with pytest.raises(AuthorshipError, match="cover"):
        advance(broken, [])
