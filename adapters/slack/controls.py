"""The buttons on Slack answers, as blocks, and reading a click back (pure; no IO).

A finished answer ends with 👍/👎: Slack's `feedback_buttons` in a `context_actions` block, given
to chat.stopStream on a streamed answer or with the text's blocks on a posted one. A posted answer
(Slack's streaming API takes no blocks until it stops) carries a Stop button while it is written.
Each button's value names the answer: its conversation's workspace and thread, and its question's
ts, so a click is understood after a restart. Blocks replace a message's `text` on screen, so a
posted answer's text goes in `section` blocks too (3,000 characters each), and `text` stays as the
notification fallback.
"""

from __future__ import annotations

from typing import Any

from bot import sentences
from bot.render import split_text
from bot.types import ConversationKey

STOP_ACTION = "qwen_stop"
FEEDBACK_ACTION = "qwen_feedback"
SECTION_LIMIT = 3000
#: What a message carries: nothing, Stop (written now) or feedback (finished).
NONE, STOP, FEEDBACK = "", "stop", "feedback"


def ref(key: ConversationKey, question: str) -> str:
    """A button's value: the answer's conversation (its channel is the click's) and its question."""
    return f"{key.space}|{key.thread or ''}|{question}"


def read(value: str, channel: str) -> tuple[str, ConversationKey, str] | None:
    """A button's value, clicked in `channel`, as (vote or "stop", conversation, question ts);
    None if it is not ours."""
    kind, _, rest = value.partition(":")
    parts = rest.split("|")
    if kind not in ("up", "down", "stop") or len(parts) != 3 or not parts[0] or not parts[2]:
        return None
    return kind, ConversationKey("slack", parts[0], channel, parts[1] or None), parts[2]


def feedback(answer: str) -> dict[str, Any]:
    def button(kind: str, label: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": label}, "value": f"{kind}:{answer}",
                "accessibility_label": label}

    return {"type": "context_actions", "elements": [{
        "type": "feedback_buttons", "action_id": FEEDBACK_ACTION,
        "positive_button": button("up", sentences.FEEDBACK_GOOD),
        "negative_button": button("down", sentences.FEEDBACK_BAD)}]}


def stop(answer: str) -> dict[str, Any]:
    return {"type": "actions", "elements": [{
        "type": "button", "action_id": STOP_ACTION, "value": f"stop:{answer}",
        "text": {"type": "plain_text", "text": sentences.STOP_BUTTON}}]}


def blocks(mrkdwn: str, controls: str, answer: str,
           body: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A posted message's blocks: its text (`body`, e.g. a `markdown` block, or sections of
    `mrkdwn`), then its buttons."""
    if body is None:
        body = [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
                for part in split_text(mrkdwn, SECTION_LIMIT) if part.strip()]
    return [*body, stop(answer) if controls == STOP else feedback(answer)]


def extra(mrkdwn: str, controls: str, answer: str, had: str,
          body: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments for `controls` on a message that showed `had`."""
    if controls and answer:
        return {"blocks": blocks(mrkdwn, controls, answer, body)}
    return {"blocks": []} if had else {}  # an empty list removes buttons shown before


def choose(answer: str, finished: bool, *, last: bool, final: bool) -> str:
    """The buttons one message of an answer carries: only the last, Stop while it is written and
    👍/👎 once finished (none without an `answer` to name)."""
    if not answer or not last:
        return NONE
    if final:
        return FEEDBACK if finished else NONE
    return STOP


def payload(rendered: dict[str, Any], mrkdwn: str, controls: str, answer: str, had: str) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments: the rendered piece (a `markdown` block for tables)
    with its buttons, or no blocks where buttons were shown before."""
    added = extra(mrkdwn, controls, answer, had, body=rendered.get("blocks"))
    if rendered.get("blocks") and not added.get("blocks"):
        return rendered  # its own block replaces any buttons shown before
    return {**rendered, **added}
