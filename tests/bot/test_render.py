"""bot.render: the one fence model and splitter both platforms use."""

from __future__ import annotations

import pytest

from bot.render import Fence, balance, cut_point, open_fence, split, split_text


def rebuilt(text: str, limit: int) -> str:
    return "".join(piece.body + piece.joint for piece in split(text, limit))


def test_short_text_is_one_message() -> None:
    assert split_text("hello", 2000) == ["hello"]


def test_every_piece_fits_the_limit() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    pieces = split_text(text, 2000)
    assert len(pieces) > 1
    assert all(len(p) <= 2000 for p in pieces)


def test_splits_fall_on_line_boundaries() -> None:
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    pieces = split_text("\n".join(lines), 2000)
    assert "\n".join(pieces).split("\n") == lines


def test_a_cut_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})  # a line of code" for i in range(150))
    text = f"Here is code:\n```python\n{code}\n```\nDone."
    pieces = split_text(text, 1000)
    assert len(pieces) > 2
    assert all(open_fence(p) is None for p in pieces)
    assert all(p.startswith("```python\n") for p in pieces[1:-1])
    assert all(len(p) <= 1000 for p in pieces)


def test_the_bodies_of_the_pieces_put_back_together_are_the_text() -> None:
    code = "\n".join(f"x = {i}" for i in range(400))
    text = f"Intro\n```js\n{code}\n```\nOutro"
    assert rebuilt(text, 500) == text


def test_a_piece_is_its_body_with_the_reopened_and_closed_fences_only() -> None:
    text = "```js\n" + "\n".join(f"x = {i}" for i in range(400)) + "\n```"
    for piece in split(text, 500)[1:-1]:
        assert piece.text == f"```js\n{piece.body}\n```"


def test_a_line_longer_than_the_limit_is_cut_at_spaces() -> None:
    text = " ".join(["word"] * 1000)
    pieces = split_text(text, 300)
    assert all(len(p) <= 300 for p in pieces)
    assert "".join(pieces) == text


def test_a_cut_never_falls_inside_a_fence() -> None:
    line = "a" + "`" * 20
    assert cut_point(line, 3) == 1
    assert cut_point(line, 4) == 4


def test_a_long_run_of_backticks_keeps_its_fences_across_messages() -> None:
    text = "0" + "`" * 1990
    pieces = split(text, 200)
    assert all(len(piece.text) <= 200 and open_fence(piece.text) is None for piece in pieces)
    assert rebuilt(text, 200) == text


def test_a_fence_inside_a_line_opens_a_block() -> None:
    assert open_fence("see ```python") == Fence("python")
    assert open_fence("see ```python code``` done") is None


def test_a_run_of_backticks_counts_as_fences_left_to_right() -> None:
    assert open_fence("`" * 9) == Fence()
    assert open_fence("`" * 7) is None


def test_balance_closes_an_open_fence() -> None:
    assert balance("a\n```py\nx = 1") == "a\n```py\nx = 1\n```"


def test_balance_leaves_closed_fences_alone() -> None:
    assert balance("```\nx\n```") == "```\nx\n```"


def test_a_long_language_is_not_repeated_in_continuations() -> None:
    text = "```" + "x" * 1500 + "\n" + "\n".join(f"line {i}" for i in range(400)) + "\n```"
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.startswith("```\n") for p in pieces[1:])


def test_a_limit_too_small_for_fences_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        split("text", 10)


def test_a_long_line_is_never_cut_between_a_fence_and_its_language() -> None:
    text = "0" * 1009 + "```python"
    done = ""
    for piece in split(text, 40):
        done += piece.body
        assert piece.closes == open_fence(done)
    assert done == text


def test_a_cut_line_reads_a_fences_language_in_the_whole_line() -> None:
    text = "0" * 13 + "```" + "0" * 1000  # a thousand zeros are code, not a language
    assert all(piece.reopen in (None, Fence("")) for piece in split(text, 40))
