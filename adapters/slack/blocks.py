"""Pure: what each Slack message of an answer carries, mrkdwn text or a `markdown` block.

Slack's mrkdwn has no tables, and neither does the streaming API's `markdown_text` (it shows the
pipes); a `markdown` block renders GitHub-flavoured Markdown, tables included. So the final text
of an answer with a table goes out as `markdown` blocks, one per message, each with its mrkdwn as
the fallback `text` Slack uses for notifications. Such an answer is split so that no table is cut
without its header: a table too long for one message goes on in the next under its header again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from adapters.slack.render import MESSAGE_LIMIT, STREAM_LIMIT, mrkdwn_pieces, to_stream_markdown
from bot.render import advance, split

#: A `markdown` block holds up to 12,000 characters per message; the margin is for the
#: mention-breaking characters added after splitting.
BLOCK_LIMIT = STREAM_LIMIT
#: `| :--- | ---: |`, `---|---`: a row of cells of dashes, optionally aligned, between pipes.
_BLOCK_MARK = "\0markdown\0"
_DELIMITER = re.compile(r"^\s{0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")


@dataclass(frozen=True)
class Rendered:
    """One message of an answer, as chat.postMessage and chat.update take it."""

    text: str  # mrkdwn: the message itself, or the fallback when the block carries it
    markdown: str = ""  # set: the message is this `markdown` block

    @property
    def payload(self) -> dict[str, Any]:
        if not self.markdown:
            return {"text": self.text}
        return {"text": self.text, "blocks": [{"type": "markdown", "text": self.markdown}]}

    @property
    def shown(self) -> str:
        """What the message shows, to compare with what it showed before (never equal across kinds)."""
        return _BLOCK_MARK + self.markdown if self.markdown else self.text


def emptied(shown: str) -> dict[str, Any]:
    """chat.update arguments that empty a message which showed `shown` (its block too, if any:
    chat.update without `blocks` keeps the old ones)."""
    return {"text": "…", "blocks": []} if shown.startswith(_BLOCK_MARK) else {"text": "…"}


def _cells(row: str) -> int:
    return len(row.strip().strip("|").split("|"))


def tables(markdown: str) -> list[tuple[int, int]]:
    """Each GFM table outside code blocks, as (header line, line after its last row)."""
    lines = markdown.split("\n")
    found: list[tuple[int, int]] = []
    fence = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if (fence is None and "|" in line and index + 1 < len(lines) and advance(None, line) is None
                and _DELIMITER.match(lines[index + 1]) and _cells(line) == _cells(lines[index + 1])):
            end = index + 2
            while end < len(lines) and lines[end].strip() and "|" in lines[end] and "```" not in lines[end]:
                end += 1
            found.append((index, end))
            index = end
            continue
        fence = advance(fence, line)
        index += 1
    return found


def has_table(markdown: str) -> bool:
    return bool(tables(markdown))


def table_pieces(markdown: str, limit: int = BLOCK_LIMIT) -> list[str]:
    """`markdown` in pieces of at most `limit` characters (see `bot.render.split`); a piece that
    begins inside a table begins with that table's header and delimiter rows again."""
    lines = markdown.split("\n")
    found = tables(markdown)
    heads = [len(lines[h]) + len(lines[h + 1]) + 2 for h, _ in found]
    # Room for a repeated header, unless headers are so long that repeating them is not worth it.
    repeat = bool(heads) and max(heads) <= limit // 4
    out: list[str] = []
    line, mid_line = 0, False
    for piece in split(markdown, limit - (max(heads) if repeat else 0)):
        head = ""
        if repeat and not mid_line:
            for start, end in found:
                if start + 1 <= line < end:
                    head = "\n".join(lines[start:min(line, start + 2)]) + "\n"
        if piece.body.strip():
            out.append(head + piece.text)
        line += piece.body.count("\n") + (1 if piece.joint else 0)
        mid_line = not piece.joint
    return out


def rendered(markdown: str, *, final: bool) -> list[Rendered]:
    """An answer's messages: mrkdwn, or for the final text of an answer with a table, blocks."""
    if not (final and has_table(markdown)):
        return [Rendered(piece) for piece in mrkdwn_pieces(markdown)]
    out = []
    for piece in table_pieces(markdown) or [""]:
        fallback = mrkdwn_pieces(piece, MESSAGE_LIMIT)
        text = fallback[0] + (" …" if len(fallback) > 1 else "")
        out.append(Rendered(text, to_stream_markdown(piece)))
    return out
