"""Splitting long answers into platform-sized messages without breaking code blocks.

Splits fall on line boundaries (a single over-long line is cut at a space where it can be).
A code block cut in two is closed at the end of one message and reopened, with its language,
at the start of the next, so no message has an unbalanced fence.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})(.*)$")


def _toggle(fence: str | None, line: str) -> str | None:
    """The open fence's opening line after `line`, or None outside code."""
    match = FENCE.match(line)
    if not match:
        return fence
    if fence is None:
        # Reopened in the next message as marker plus language only: a long info string must not
        # make a continuation message overflow.
        language = match.group(2).strip().split(" ")[0][:20]
        return match.group(1) + language
    marker = FENCE.match(fence).group(1)  # type: ignore[union-attr]
    opener = match.group(1)
    closes = opener[0] == marker[0] and len(opener) >= len(marker) and not match.group(2).strip()
    return None if closes else fence


def _closer(fence: str) -> str:
    return FENCE.match(fence).group(1)  # type: ignore[union-attr]


def _wrap(line: str, width: int) -> list[str]:
    """Cut a line longer than `width`, preferring the last space before the cut."""
    pieces = []
    while len(line) > width:
        cut = line.rfind(" ", width // 2, width)
        cut = cut + 1 if cut > 0 else width
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


def balance(text: str) -> str:
    """Close a code block left open, e.g. in an answer that is still streaming."""
    fence = None
    for line in text.split("\n"):
        fence = _toggle(fence, line)
    return f"{text}\n{_closer(fence)}" if fence else text


def split_text(text: str, limit: int) -> list[str]:
    """Messages of at most `limit` characters whose concatenated content is `text`."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    lines: list[str] = []
    size = -1  # length of "\n".join(lines)
    fence: str | None = None

    def flush() -> None:
        nonlocal lines, size
        body = [*lines, _closer(fence)] if fence else lines
        chunks.append("\n".join(body))
        lines = [fence] if fence else []
        size = len(fence) if fence else -1

    for raw in text.split("\n"):
        width = max(16, limit - 2 * len(fence or "") - 8)
        for piece in _wrap(raw, width):
            after = _toggle(fence, piece)
            closing = len(_closer(after)) + 1 if after else 0
            reopened_only = fence is not None and lines == [fence]
            if lines and not reopened_only and size + 1 + len(piece) + closing > limit:
                flush()
                after = _toggle(fence, piece)
            lines.append(piece)
            size += 1 + len(piece)
            fence = after
    if lines:
        chunks.append("\n".join(lines))
    return [chunk for chunk in chunks if chunk.strip()]
