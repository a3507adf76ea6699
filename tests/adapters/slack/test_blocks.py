"""Answers with tables: `markdown` blocks with a mrkdwn fallback, split without losing headers."""

from __future__ import annotations

from adapters.slack.blocks import BLOCK_LIMIT, Rendered, emptied, has_table, rendered, table_pieces
from adapters.slack.render import WORD_JOINER, to_mrkdwn

TABLE_ANSWER = """Prices:

| Fruit | Price |
|:------|------:|
| Apple | **1** |
| Pear  | 2     |

Cheap!"""

GOLDEN_PAYLOAD = {
    "text": "Prices:\n\n*Fruit* | *Price*\nApple | *1*\nPear | 2\nCheap!",
    "blocks": [{"type": "markdown", "text": TABLE_ANSWER}],
}


def test_the_final_text_of_an_answer_with_a_table_is_a_markdown_block_with_a_mrkdwn_fallback() -> None:
    (message,) = rendered(TABLE_ANSWER, final=True)
    assert message.payload == GOLDEN_PAYLOAD


def test_text_still_streaming_stays_mrkdwn() -> None:
    assert rendered(TABLE_ANSWER, final=False) == [Rendered(to_mrkdwn(TABLE_ANSWER))]


def test_an_answer_without_a_table_stays_mrkdwn() -> None:
    answer = "Use a | pipe, or **bold**.\n\n---\n\nDone."
    assert not has_table(answer)
    assert [m.payload for m in rendered(answer, final=True)] == [{"text": to_mrkdwn(answer)}]


def test_a_table_inside_a_code_block_is_code_not_a_table() -> None:
    assert not has_table("```\n| a | b |\n|---|---|\n| 1 | 2 |\n```")


def test_a_header_and_delimiter_with_different_cell_counts_is_not_a_table() -> None:
    assert not has_table("| a | b |\n|---|\n| 1 | 2 |")
    assert has_table("a | b\n--- | ---\n1 | 2")


def test_mentions_in_a_table_ping_nobody() -> None:
    (message,) = rendered("| who |\n|---|\n| <!channel> <@U0BOB> @here |", final=True)
    block = message.payload["blocks"][0]["text"]
    assert "<!channel>" not in block and "<@U0BOB>" not in block and "@here" not in block
    assert "<!channel>" not in message.text and WORD_JOINER in block


def test_a_table_too_long_for_one_message_goes_on_under_its_header() -> None:
    rows = [f"| row {i} | value {i} |" for i in range(400)]
    answer = "Intro\n\n| Row | Value |\n|---|---|\n" + "\n".join(rows) + "\n\nEnd"
    pieces = table_pieces(answer, 1000)
    assert len(pieces) > 5 and all(len(piece) <= 1000 for piece in pieces)
    assert all(piece.startswith("| Row | Value |\n|---|---|\n") for piece in pieces[1:-1])
    assert [line for piece in pieces for line in piece.split("\n") if line.startswith("| row")] == rows


def test_a_long_answer_with_a_table_is_several_messages_each_within_slacks_limits() -> None:
    answer = "| n | square |\n|---|---|\n" + "\n".join(f"| {i} | {i * i} |" for i in range(3000))
    messages = rendered(answer, final=True)
    assert len(messages) > 1
    for message in messages:
        assert len(message.payload["blocks"][0]["text"]) <= 12_000 and len(message.text) < 4000
        assert message.markdown.startswith("| n | square |\n|---|---|\n")
    assert BLOCK_LIMIT <= 12_000


def test_emptying_a_message_that_showed_a_block_removes_the_block() -> None:
    (message,) = rendered(TABLE_ANSWER, final=True)
    assert emptied(message.shown) == {"text": "…", "blocks": []}
    assert emptied("plain mrkdwn") == {"text": "…"}
