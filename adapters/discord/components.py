"""The buttons on Discord answers, and reading them back from a click's custom_id.

A streaming answer's last message carries Stop; a finished answer's last message carries 👍 and
👎. Each custom_id holds the question's message id, which names the answer (and, as
`answer-to:<id>`, its remembered turn), so a click is understood after a restart with no view
kept in memory: the client reads clicks in `on_interaction` (see adapters/discord/buttons.py).
A button is added here, in `_BUTTONS`, and handled there.
"""

from __future__ import annotations

import discord

from bot import sentences

STOP = "stop"
UP = "fb:up"
DOWN = "fb:down"
#: What a message of an answer carries: buttons by kind, in order.
_BUTTONS: dict[str, tuple[tuple[str, str, str], ...]] = {  # controls -> (kind, label, emoji)
    "streaming": ((STOP, sentences.STOP_BUTTON, "⏹️"),),
    "finished": ((UP, "", "👍"), (DOWN, "", "👎")),
}


def view(controls: str, question: str) -> discord.ui.View | None:
    """The buttons for `controls` ("streaming", "finished" or "" for none) on `question`'s answer.

    None clears a message's buttons when it is edited. The view is stopped before it is sent, so
    discord.py does not keep it (clicks are read from the raw interaction instead)."""
    if not question or controls not in _BUTTONS:
        return None
    made = discord.ui.View(timeout=None)
    for kind, label, emoji in _BUTTONS[controls]:
        made.add_item(discord.ui.Button(style=discord.ButtonStyle.secondary, label=label or None,
                                        emoji=emoji, custom_id=f"{kind}:{question}"[:100]))
    made.stop()
    return made


def read(custom_id: str) -> tuple[str, str] | None:
    """A custom_id of ours as (kind, question id); None for anyone else's."""
    for kind in (STOP, UP, DOWN):
        if custom_id.startswith(kind + ":") and len(custom_id) > len(kind) + 1:
            return kind, custom_id[len(kind) + 1:]
    return None
