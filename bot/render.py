"""Code fences and splitting long answers into platform-sized messages, for every adapter.

The fence model is the platforms', not CommonMark's: Discord and Slack both treat ``` anywhere in
a line as the start or end of a code block, so the code block is open after an odd number of
them, counted left to right without overlap (a run of seven backticks is two fences and a
backtick). An opening fence directly followed by a word such as `python` up to the line's end
names the block's language.

`split` cuts text into pieces of at most `limit` characters at line ends; a line too long for a
message is cut after a space where it can be, never inside a fence. A code block that crosses a
cut is closed at the end of one piece and reopened, with its language, at the start of the next,
so every piece is balanced on its own; the pieces' bodies put back together are the text,
character for character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = "```"
#: A language worth repeating when a block is reopened; a longer "language" is left out so that
#: continuations cannot overflow.
_LANGUAGE = re.compile(r"[A-Za-z0-9_+\-.#]{1,20}")
#: Smallest limit `split` accepts: room for a reopened fence with its language, its closer, and text.
MIN_LIMIT = 40


@dataclass(frozen=True)
class Fence:
    """An open code block and its language ("python", or "")."""

    language: str = ""

    @property
    def opener(self) -> str:
        return FENCE + self.language

    @property
    def closer(self) -> str:
        return FENCE


def fences(line: str) -> list[int]:
    """Where the fences of `line` (or of any text) start, counted left to right without overlap."""
    found: list[int] = []
    at = line.find(FENCE)
    while at >= 0:
        found.append(at)
        at = line.find(FENCE, at + len(FENCE))
    return found


def advance(fence: Fence | None, line: str) -> Fence | None:
    """The code block open after `line`, given the one open before it (None: outside code)."""
    return advance_to(fence, line, len(line))


def advance_to(fence: Fence | None, line: str, end: int) -> Fence | None:
    """`advance` over `line[:end]`, reading each fence's language in the whole line, as it shows."""
    for at in fences(line):
        if at >= end:
            break
        if fence is not None:
            fence = None
            continue
        language = _LANGUAGE.fullmatch(line, at + len(FENCE))
        fence = Fence(language.group(0) if language else "")
    return fence


def open_fence(text: str, fence: Fence | None = None) -> Fence | None:
    """The code block `text` leaves open, starting in `fence`, or None."""
    for line in text.split("\n"):
        fence = advance(fence, line)
    return fence


def close(text: str, fence: Fence | None) -> str:
    """`text`, which leaves `fence` open, with the fence closed on a line of its own."""
    if fence is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + fence.closer


def balance(text: str) -> str:
    """Close a code block left open, e.g. in an answer that is still streaming."""
    return close(text, open_fence(text))


def cut_point(line: str, room: int, start: int = 0) -> int:
    """Where to cut `line` so that its head, `line[:cut]`, is at most `room` long, `start` < cut.

    Just after the last space in the second half of the room if there is one, else as far as the
    room goes; never inside a fence, whose backticks would then count differently on each side,
    nor between a fence and its language.
    """
    room = max(start + 1, min(room, len(line) - 1))
    for index in range(room - 1, max(start, room // 2) - 1, -1):
        if line[index] == " ":
            return index + 1
    # Not between a fence's backticks, nor between an opening fence and its language word.
    inside: set[int] = set()
    for at in fences(line):
        end = len(line) if _LANGUAGE.fullmatch(line, at + len(FENCE)) else at + len(FENCE)
        inside.update(range(at + 1, end))
    cut = room
    while cut in inside and cut - 1 > start:
        cut -= 1
    return cut


@dataclass(frozen=True)
class Piece:
    """One message's worth of a text. `body` is a stretch of the text and `joint` what lies between
    it and the next stretch ("\\n" at a line end, "" inside a cut line). `reopen` is the code block
    open at its start, repeated on a first line of its own; `closes` the one open at its end,
    closed on a last line of its own."""

    body: str
    joint: str
    reopen: Fence | None
    closes: Fence | None

    @property
    def text(self) -> str:
        head = self.reopen.opener + "\n" if self.reopen else ""
        return close(head + self.body, self.closes)


def _closing(fence: Fence | None) -> int:
    return len(fence.closer) + 1 if fence else 0


def split(text: str, limit: int) -> list[Piece]:
    """`text` in pieces of at most `limit` characters (see the module's description)."""
    if limit < MIN_LIMIT:
        raise ValueError(f"a limit under {MIN_LIMIT} characters leaves no room for code fences")
    pieces: list[Piece] = []
    fence: Fence | None = None
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        reopen = fence
        size = len(reopen.opener) + 1 if reopen else 0
        body: list[str] = []
        while index < len(lines):
            line = lines[index]
            after = advance(fence, line)
            if size + (1 if body else 0) + len(line) + _closing(after) <= limit:
                size += (1 if body else 0) + len(line)
                body.append(line)
                fence = after
                index += 1
            elif body:
                break
            else:
                # A line too long for a message of its own: its head here, the rest in the next.
                # The head may leave a block open that the whole line closes: room for a closer.
                cut = cut_point(line, limit - size - len(FENCE) - 1)
                fence = advance_to(fence, line, cut)
                lines[index] = line[cut:]
                pieces.append(Piece(line[:cut], "", reopen, fence))
                break
        if body:
            pieces.append(Piece("\n".join(body), "\n" if index < len(lines) else "", reopen, fence))
    return pieces


def split_text(text: str, limit: int) -> list[str]:
    """`text` as messages of at most `limit` characters, each with balanced code fences.

    Stretches of only whitespace are left out: no platform shows them as a message.
    """
    return [piece.text for piece in split(text, limit) if piece.body.strip()]
