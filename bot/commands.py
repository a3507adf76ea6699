"""The bot's commands as core functions; each adapter exposes them in its platform's idiom.

Each returns one short Markdown text for the user. `run` dispatches a typed command line
("model qwen-plus"), for the terminal and Slack's `/qwen`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.memory.base import Tokens
from bot.types import ChannelMode, ConversationKey

if TYPE_CHECKING:
    from bot.core import ConversationCore

PERSONA_MAX_CHARS = 4000
CLEAR_WORDS = {"clear", "reset", "default", "none", "off"}
NAMES = ("reset", "persona", "model", "memory", "usage", "forget-me", "channel-mode")

HELP = (
    "Commands: `reset` (forget this conversation), `persona [text|clear]`, `model [name]`, "
    "`memory`, `usage`, `forget-me` (delete everything you wrote), `channel-mode mention|always`."
)


def _tokens(t: Tokens) -> str:
    return f"{t.total:,} tokens ({t.prompt:,} in, {t.completion:,} out)"


class Commands:
    def __init__(self, core: ConversationCore) -> None:
        self.core = core

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.core.store

    async def reset(self, key: ConversationKey) -> str:
        removed = await self.store.reset(key)
        return f"Done: I forgot this conversation ({removed} messages). Persona and model stay as they were."

    async def persona(self, key: ConversationKey, text: str | None = None) -> str:
        if text is None or not text.strip():
            current = (await self.core.effective_settings(key)).persona
            if current:
                return f"This conversation's persona:\n> {current}"
            return "This conversation uses the default persona. Set one with `persona <text>`."
        text = text.strip()
        if text.lower() in CLEAR_WORDS:
            await self.store.update_settings(key, persona=None)
            return "Persona cleared; back to the default."
        if len(text) > PERSONA_MAX_CHARS:
            return f"That persona is {len(text):,} characters; the limit is {PERSONA_MAX_CHARS:,}."
        await self.store.update_settings(key, persona=text)
        return "Persona set for this conversation."

    async def model(self, key: ConversationKey, name: str | None = None) -> str:
        allowed = self.core.settings.qwen_models
        listing = ", ".join(f"`{m}`" for m in allowed)
        if name is None or not name.strip():
            current = self.core.model_for((await self.core.effective_settings(key)).model)
            return f"Model: `{current}`. Available: {listing}."
        name = name.strip()
        if name not in allowed:
            return f"Unknown model `{name}`. Available: {listing}."
        await self.store.update_settings(key, model=name)
        return f"This conversation now uses `{name}`."

    async def memory(self, key: ConversationKey) -> str:
        stats = await self.store.stats(key)
        summary = await self.store.summary(key)
        if stats.turns == 0 and not summary.text:
            return "I remember nothing of this conversation yet."
        text = f"I remember {stats.turns} messages ({stats.tokens:,} tokens)"
        if stats.summarised_turns:
            text += f"; the oldest {stats.summarised_turns} are folded into a summary"
        text += f". Budget: {self.core.settings.max_context_tokens:,} tokens."
        if summary.text:
            excerpt = summary.text if len(summary.text) <= 300 else summary.text[:297] + "..."
            text += f"\nSummary: {excerpt}"
        return text

    async def usage(self, key: ConversationKey, user_id: str) -> str:
        from bot.core import today

        report = await self.store.usage(key, user_id, today())
        return "\n".join([
            f"This conversation: {_tokens(report.conversation_today)} today, "
            f"{_tokens(report.conversation_total)} in total.",
            f"This {'workspace' if key.platform == 'slack' else 'server'}: "
            f"{_tokens(report.space_today)} today, {_tokens(report.space_total)} in total.",
            f"You: {_tokens(report.user_today)} today.",
        ])

    async def forget_me(self, platform: str, user_id: str) -> str:
        removed = await self.store.forget_user(platform, user_id)
        return (f"Deleted {removed} of your messages from my memory everywhere on {platform}, "
                "with the summaries that could quote them.")

    async def channel_mode(self, key: ConversationKey, mode: str | None = None) -> str:
        if mode is None or not mode.strip():
            current = (await self.store.settings(key)).mode
            return f"Channel mode: `{current.value}`."
        try:
            chosen = ChannelMode(mode.strip().lower())
        except ValueError:
            return "Channel mode must be `mention` (answer when addressed) or `always` (answer everything)."
        await self.store.update_settings(key, mode=chosen)
        if chosen is ChannelMode.ALWAYS:
            return "I will now answer every message in this channel."
        return "I will now answer only when addressed in this channel."

    async def run(self, line: str, key: ConversationKey, user_id: str) -> str:
        """Dispatch a command line such as `model qwen-plus`; unknown names get the help text."""
        name, _, arg = line.strip().lstrip("/").partition(" ")
        name = name.lower().replace("_", "-")
        handlers: dict[str, Callable[[], Awaitable[str]]] = {
            "reset": lambda: self.reset(key),
            "persona": lambda: self.persona(key, arg or None),
            "model": lambda: self.model(key, arg or None),
            "memory": lambda: self.memory(key),
            "usage": lambda: self.usage(key, user_id),
            "forget-me": lambda: self.forget_me(key.platform, user_id),
            "forgetme": lambda: self.forget_me(key.platform, user_id),
            "channel-mode": lambda: self.channel_mode(key, arg or None),
        }
        handler = handlers.get(name)
        if handler is None:
            return HELP
        return await handler()
