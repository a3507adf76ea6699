"""render: answers into Discord-sized messages with balanced code fences."""

from __future__ import annotations

from adapters.discord import render
from bot.render import open_fence


def fences_balanced(message: str) -> bool:
    return open_fence(message) is None


def test_a_short_answer_is_one_message() -> None:
    assert render.messages("Hello **there**.") == ["Hello **there**."]


def test_whitespace_gives_no_message() -> None:
    assert render.messages(" \n ") == []


def test_long_prose_splits_on_line_boundaries_under_the_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 60 for i in range(30)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    out = render.messages(text)
    assert len(out) > 1
    assert all(len(m) <= render.MESSAGE_LIMIT for m in out)
    assert all(m.split("\n")[0].startswith("Paragraph") or m.split("\n")[0] == "" for m in out)
    assert "\n".join(out).replace("\n", "") == text.replace("\n", "")


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})  # line {i}" for i in range(200))
    text = f"Here is code:\n```python\n{code}\n```\nDone."
    out = render.messages(text)
    assert len(out) > 1
    assert all(len(m) <= render.MESSAGE_LIMIT and fences_balanced(m) for m in out)
    assert all(m.startswith("```python") for m in out[1:])


def test_an_info_string_that_is_not_a_language_is_not_repeated_in_continuations() -> None:
    info = "python title=" + "x" * 300
    code = "\n".join(f"print({i})  # line {i}" for i in range(200))
    out = render.messages(f"```{info}\n{code}\n```")
    assert len(out) > 1 and out[0].startswith("```" + info)
    assert all(m.split("\n")[0] == "```" for m in out[1:])
    assert all(len(m) <= render.MESSAGE_LIMIT and fences_balanced(m) for m in out)


def test_a_streaming_continuation_with_an_open_fence_fits_once_closed() -> None:
    code = "\n".join(f"value_{i} = compute({i})" for i in range(400))
    text = f"```python\n{code}"
    for cut in range(1990, len(text), 997):
        assert all(len(m) <= render.MESSAGE_LIMIT and fences_balanced(m) for m in render.messages(text[:cut]))


def test_a_streaming_answer_with_an_open_fence_is_shown_closed() -> None:
    assert render.messages("Look:\n```js\nlet a = 1;") == ["Look:\n```js\nlet a = 1;\n```"]


def test_streamed_prefixes_keep_their_split_points() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(120))
    final = render.messages(text)
    for cut in range(len(text) // 2, len(text), 500):
        partial = render.messages(text[:cut])
        assert partial[:-1] == final[: len(partial) - 1]


def test_a_line_of_a_thousand_backticks_is_one_message_within_the_limit() -> None:
    out = render.messages("`" * 1000)
    assert len(out) == 1 and len(out[0]) <= render.MESSAGE_LIMIT and fences_balanced(out[0])
    assert out[0].startswith("`" * 1000)


def test_a_fence_after_text_on_a_line_counts_as_a_fence() -> None:
    assert render.messages("0```\n```") == ["0```\n```"]


def test_a_long_run_of_backticks_is_not_cut_inside_a_fence() -> None:
    text = "0" + "`" * 1990 + " " + "`" * 2500
    out = render.messages(text)
    assert all(len(m) <= render.MESSAGE_LIMIT and fences_balanced(m) for m in out)
    assert "0" + "`" * 1990 in out[0]


def test_notes_are_one_subtext_line() -> None:
    assert render.notice("Skipped a.zip:\nnot readable") == "-# Skipped a.zip: not readable"


def test_failures_are_marked() -> None:
    assert render.failure("Qwen is busy; try again.") == "⚠️ Qwen is busy; try again."
