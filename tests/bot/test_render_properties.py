"""Properties of the shared splitter on any text: limits held, fences balanced, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.render import MIN_LIMIT, Fence, advance_to, open_fence, split
from tests.properties import BOUNDED, markdown_text

LIMITS = st.sampled_from([MIN_LIMIT, 97, 500, 2000, 3900])


@BOUNDED
@given(markdown_text(), LIMITS)
def test_no_piece_is_longer_than_the_limit(text: str, limit: int) -> None:
    assert all(len(piece.text) <= limit for piece in split(text, limit))


@BOUNDED
@given(markdown_text(), LIMITS)
def test_every_piece_has_balanced_fences(text: str, limit: int) -> None:
    assert all(open_fence(piece.text) is None for piece in split(text, limit))


@BOUNDED
@given(markdown_text(), LIMITS)
def test_the_pieces_bodies_put_back_together_are_the_text(text: str, limit: int) -> None:
    assert "".join(piece.body + piece.joint for piece in split(text, limit)) == text


@BOUNDED
@given(markdown_text(), LIMITS)
def test_only_fences_that_cross_a_split_are_added(text: str, limit: int) -> None:
    done = 0
    for piece in split(text, limit):
        assert piece.reopen == open_at(text, done)
        done += len(piece.body)
        assert piece.closes == open_at(text, done)
        done += len(piece.joint)


def open_at(text: str, end: int) -> Fence | None:
    """The code block open at `end` in `text`, each fence's language read in its whole line."""
    start = text.rfind("\n", 0, end) + 1
    stop = text.find("\n", end)
    line = text[start:] if stop == -1 else text[start:stop]
    return advance_to(open_fence(text[:start]), line, end - start)
