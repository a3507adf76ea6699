"""Building the message list sent to Qwen: a pure function of memory and budget.

Order: the persona (the only instruction), the rolling summary, then the newest turns that fit
the token budget. In shared channels each user turn carries its author's name, so the model
knows who said what; the text of the channel is conversation, never instruction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.memory.base import Summary, Turn
from bot.tokens import IMAGE_TOKENS, MESSAGE_OVERHEAD, TokenCounter

SUMMARY_PREFIX = "Summary of the earlier conversation in this channel:\n"


@dataclass(frozen=True)
class Context:
    messages: list[dict[str, Any]]
    tokens: int
    included: int  # turns sent
    left_out: int = 0  # unsummarised turns that did not fit: time to fold them into the summary
    turn_ids: tuple[int, ...] = field(default_factory=tuple)


def fit_message(text: str, room: int, counter: TokenCounter) -> tuple[str, bool]:
    """`text` cut to `room` tokens if it is longer, and whether it was cut.

    A message must leave room for the persona and the framing: one that would not fit alone in
    the budget is read from its beginning rather than refused.
    """
    if counter.count(text) <= room:
        return text, False
    return counter.truncate(text, room), True


def fit_lines(lines: Sequence[str], room: int, counter: TokenCounter) -> tuple[list[str], int]:
    """The last of `lines` that fit in `room` tokens together, in their order, and how many were left out.

    For material such as a channel's recent messages, oldest first: the newest are kept. A
    newest line that alone would not fit is cut to the room rather than dropped.
    """
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        cost = counter.count(line) + 1  # the newline between lines
        if used + cost > room:
            if not kept and room > 1:
                kept.append(counter.truncate(line, room - 1))
            break
        kept.append(line)
        used += cost
    kept.reverse()
    return kept, len(lines) - len(kept)


def speaker_text(turn: Turn, shared: bool) -> str:
    if turn.role == "user" and shared:
        return f"{turn.author_name}: {turn.text}"
    return turn.text


def turn_cost(turn: Turn, shared: bool) -> int:
    name_cost = len(turn.author_name) // 2 + 2 if (turn.role == "user" and shared) else 0
    return turn.tokens + name_cost + MESSAGE_OVERHEAD


def build_context(
    *,
    persona: str,
    summary: Summary,
    turns: Sequence[Turn],
    budget: int,
    counter: TokenCounter,
    shared: bool = True,
    image_urls: Sequence[str] = (),
    briefing: str = "",
) -> Context:
    """Persona, summary, `briefing`, then as many of the newest `turns` as fit in `budget` tokens.

    The newest turn is always included (the caller has already cut it to fit), and its
    images, if any, become image parts for a vision model. The briefing (material for this
    answer alone, already fitted by its maker) takes room from the older turns.
    """
    head: list[dict[str, Any]] = [{"role": "system", "content": persona}]
    used = counter.count(persona) + MESSAGE_OVERHEAD
    for content in (SUMMARY_PREFIX + summary.text if summary.text else "", briefing):
        if content:
            head.append({"role": "system", "content": content})
            used += counter.count(content) + MESSAGE_OVERHEAD
    used += IMAGE_TOKENS * len(image_urls)

    chosen: list[Turn] = []
    for index, turn in enumerate(reversed(turns)):
        cost = turn_cost(turn, shared)
        if index > 0 and used + cost > budget:
            break
        chosen.append(turn)
        used += cost
    chosen.reverse()

    body: list[dict[str, Any]] = [
        {"role": turn.role, "content": speaker_text(turn, shared)} for turn in chosen
    ]
    if image_urls and body and chosen[-1].role == "user":
        parts: list[dict[str, Any]] = [{"type": "text", "text": body[-1]["content"]}]
        parts += [{"type": "image_url", "image_url": {"url": url}} for url in image_urls]
        body[-1] = {"role": "user", "content": parts}
    return Context(
        messages=head + body,
        tokens=used,
        included=len(chosen),
        left_out=len(turns) - len(chosen),
        turn_ids=tuple(turn.id for turn in chosen),
    )
