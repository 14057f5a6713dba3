"""Properties of the three-way merge of the charter post (line by line).

Texts are generated as structured line lists: blocks of lines separated by anchor lines
that neither side edits, and each side replaces whole blocks with lines of its own. So
which edits overlap is known in advance, and with it whether a person must decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

from community.post_merge import merge_post
from tests.properties.support import PURE

LINES = st.lists(st.sampled_from(["a", "b", "c", "", "  d", "- e", "a b"]), max_size=8)


def text_of(lines: list[str]) -> str:
    return "\n".join(lines)


def posted(text: str) -> str:
    """A text as the merge gives it back: the forum trims a post's ends."""
    return text.strip()


@PURE
@given(base=LINES, changed=LINES)
def test_no_change_on_one_side_gives_the_other_side(base: list[str], changed: list[str]) -> None:
    old, new = text_of(base), text_of(changed)
    assert merge_post(old, new, old) == posted(new)
    assert merge_post(old, old, new) == posted(new)


@PURE
@given(base=LINES, both=LINES)
def test_the_same_edit_on_both_sides_merges_to_itself(base: list[str], both: list[str]) -> None:
    assert merge_post(text_of(base), text_of(both), text_of(both)) == posted(text_of(both))


@PURE
@given(text=st.text(max_size=80))
def test_trailing_whitespace_alone_is_no_change(text: str) -> None:
    assert merge_post(text, text + "\n\n  ", text) == posted(text)


Lines = tuple[str, ...]


@dataclass(frozen=True)
class Block:
    base: Lines
    ours: Lines | None  # None: this side keeps the block as it was
    theirs: Lines | None

    def side(self, lines: Lines | None) -> Lines:
        return self.base if lines is None else lines

    def changed(self, lines: Lines | None) -> bool:
        return lines is not None and lines != self.base

    def conflicts(self) -> bool:
        return self.changed(self.ours) and self.changed(self.theirs) and self.ours != self.theirs

    def merged(self) -> Lines:
        """The block after a merge without conflict: whichever side changed it."""
        return self.side(self.ours) if self.changed(self.ours) else self.side(self.theirs)


@st.composite
def blocks(draw: st.DrawFn) -> list[Block]:
    made = []
    for number in range(draw(st.integers(1, 5))):
        base = tuple(f"base {number}.{line}" for line in range(draw(st.integers(0, 3))))

        def edit(side: str, number: int = number) -> st.SearchStrategy[Lines | None]:
            sizes = st.integers(0, 3)
            return st.none() | sizes.map(lambda n: tuple(f"{side} {number}.{i}" for i in range(n)))

        ours = draw(edit("ours"))
        theirs = draw(st.one_of(edit("theirs"), st.just(ours)))  # sometimes the same edit
        made.append(Block(base, ours, theirs))
    return made


def assemble(chosen: list[Lines]) -> str:
    """The blocks between anchor lines that no side edits."""
    lines = ["anchor start"]
    for number, block in enumerate(chosen):
        lines.extend(block)
        lines.append(f"anchor {number}")
    return text_of(lines)


@PURE
@given(case=blocks())
@example(case=[Block((), ("ours 0.0",), ("theirs 0.0",))])  # both insert at one place
@example(case=[Block(("base 0.0",), (), ("theirs 0.0",))])  # one deletes what one edits
def test_the_merge_is_none_exactly_when_both_sides_change_one_block_differently(
    case: list[Block],
) -> None:
    base = assemble([block.base for block in case])
    ours = assemble([block.side(block.ours) for block in case])
    theirs = assemble([block.side(block.theirs) for block in case])
    merged = merge_post(base, ours, theirs)
    if any(block.conflicts() for block in case):
        assert merged is None
    else:
        assert merged == assemble([block.merged() for block in case])
