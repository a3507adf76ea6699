"""Rendering the model's Markdown for Slack, with nobody pinged and nothing lost."""

from __future__ import annotations

import re

import pytest

from adapters.slack.render import (
    MESSAGE_LIMIT,
    WORD_JOINER,
    mrkdwn_pieces,
    settled,
    to_mrkdwn,
    to_stream_markdown,
)
from bot.render import open_fence

GOLDEN_MARKDOWN = """# Plan
**Bold** and *italic* and ~~gone~~, see [the docs](https://example.com/a?b=1&c=2).

- first **item**
- second

```python
if a < b and c > d:
    print("x & y")
```

> quoted"""

GOLDEN_MRKDWN = """*Plan*
*Bold* and _italic_ and ~gone~, see <https://example.com/a?b=1&amp;c=2|the docs>.

• first *item*
• second

```
if a &lt; b and c &gt; d:
    print("x &amp; y")
```

> quoted"""

PINGS = ["<!channel>", "<!here>", "<!everyone>", "<!subteam^S0TEAM|@devs>", "<@U0ALICE>", "<@W0BOSS|boss>"]


def test_markdown_becomes_slack_mrkdwn() -> None:
    assert to_mrkdwn(GOLDEN_MARKDOWN) == GOLDEN_MRKDWN


@pytest.mark.parametrize(("markdown", "expected"), [
    ("x * y * z", "x * y * z"),
    ("2*3*4", "2*3*4"),
    ("snake__case__name", "snake__case__name"),
    ("`a * b * c` and `*x*`", "`a * b * c` and `*x*`"),
    ("*one* *two*", "_one_ _two_"),
])
def test_asterisks_and_underscores_that_are_not_emphasis_stay_as_written(markdown, expected) -> None:
    assert to_mrkdwn(markdown) == expected


def test_code_fence_language_tags_are_dropped() -> None:
    assert to_mrkdwn("```js\nx()\n```") == "```\nx()\n```"


@pytest.mark.parametrize("ping", PINGS)
def test_special_mentions_in_mrkdwn_ping_nobody(ping: str) -> None:
    rendered = to_mrkdwn(f"Hey {ping} look, and in code: `{ping}`\n```\n{ping}\n```")
    assert not re.search(r"<[!@]", rendered)
    assert ping.replace("<", "&lt;").replace(">", "&gt;") in rendered


@pytest.mark.parametrize("ping", PINGS)
def test_special_mentions_in_streamed_markdown_ping_nobody(ping: str) -> None:
    rendered = to_stream_markdown(f"Hey {ping}")
    assert not re.search(r"<[!@]", rendered)
    assert rendered.replace(WORD_JOINER, "") == f"Hey {ping}"


@pytest.mark.parametrize("word", ["@here", "@channel", "@everyone"])
def test_broadcast_words_are_defused(word: str) -> None:
    for rendered in (to_mrkdwn(f"tell {word} now"), to_stream_markdown(f"tell {word} now")):
        assert word not in rendered
        assert rendered.replace(WORD_JOINER, "") == f"tell {word} now"


def test_long_answers_split_under_the_limit_without_breaking_code_or_losing_text() -> None:
    paragraphs = [f"Paragraph {i}: " + "words " * 60 for i in range(30)]
    code = "```python\n" + "\n".join(f"line_{i} = {i}" for i in range(400)) + "\n```"
    answer = "\n\n".join([*paragraphs[:15], code, *paragraphs[15:]])
    pieces = mrkdwn_pieces(answer)
    assert len(pieces) > 3
    for piece in pieces:
        assert len(piece) <= MESSAGE_LIMIT
        assert open_fence(piece) is None
    joined = "\n".join(pieces)
    for i in range(30):
        assert f"Paragraph {i}:" in joined
    for i in range(400):
        assert f"line_{i} = {i}" in joined


def test_a_long_line_after_a_run_of_backticks_stays_under_the_limit() -> None:
    pieces = mrkdwn_pieces("`" * 10 + "xxxxxxx " * 487)
    assert all(len(piece) <= MESSAGE_LIMIT and open_fence(piece) is None for piece in pieces)


def test_settled_text_holds_back_only_a_last_word_that_could_still_become_a_ping_or_a_fence() -> None:
    assert settled("hello <!her") == "hello "
    assert settled("ping @chan") == "ping "
    assert settled("code:\n``") == "code:\n"
    assert settled("line one\nsecond") == "line one\nsecond"
    assert settled("Hello") == "Hello"


def test_text_that_looks_like_an_internal_placeholder_is_rendered_whole() -> None:
    assert to_mrkdwn("Here: \ue0007\ue001 and \ue0000\ue001 `code` done") == "Here: 7 and 0 `code` done"


def test_a_pipe_in_a_link_address_does_not_end_the_address() -> None:
    assert to_mrkdwn("See [the query](https://example.com/search?q=a|b) now") == (
        "See <https://example.com/search?q=a%7Cb|the query> now")
