"""The bot's commands, declared once and answered by the core; adapters expose them in their idiom.

`COMMANDS` is the registry: name, argument, whether it changes shared settings (and so needs
permission), and one line of help. The terminal's `/help`, Slack's `/qwen` and thread mentions,
and Discord's app commands are all derived from it. Each command answers with one short Markdown
text for the user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot import reasoning, sentences
from bot.budgets import Budgets, space_word
from bot.config import Settings
from bot.lifecycle import Lifecycle, asked, within
from bot.memory import MemoryStore, Tokens
from bot.sentences import plural
from bot.text import storable
from bot.thinking import Thinks, search_wanted, thinking_wanted, thinks
from bot.threads import effective_settings
from bot.types import ChannelMode, ConversationKey
from bot.usage import today

PERSONA_MAX_CHARS = 4000
CLEAR_WORDS = {"clear", "reset", "default", "none", "off"}


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, as a Discord command description (at most 100 characters)
    arg: str | None = None  # the optional argument's name; None: the command takes none
    arg_help: str = ""
    choices: tuple[str, ...] = ()  # the argument's only values, when it has a fixed set
    #: Whether it changes what everyone in the conversation gets: "always", "with_arg" or "never".
    changes: str = "never"
    #: A channel's own setting: not offered in DMs or threads.
    channel_only: bool = False
    aliases: tuple[str, ...] = ()
    #: Help worded for one platform, as (platform, help): where "here" is a server, a workspace or a terminal.
    help_on: tuple[tuple[str, str], ...] = ()

    def describe(self, platform: str = "") -> str:
        """The help line as `platform` ("discord", "slack", "terminal") should word it."""
        return dict(self.help_on).get(platform, self.help)
    #: Acts on everyone's answers for those who may change settings (`stop`), else on the caller's own.
    moderated: bool = False

    def needs_permission(self, arg: str) -> bool:
        return self.changes == "always" or (self.changes == "with_arg" and bool(arg.strip()))

    def usage(self, prefix: str) -> str:
        if self.arg is None:
            return f"{prefix}{self.name}"
        return f"{prefix}{self.name} [{'|'.join(self.choices) or self.arg}]"


COMMANDS: tuple[Command, ...] = (
    Command("reset", "Make me forget this conversation", changes="always"),
    Command("persona", "Show or set how I behave in this conversation", arg="text",
            arg_help="The new persona, or 'clear' for the default; leave empty to show it",
            changes="with_arg"),
    Command("model", "Show or choose the Qwen model for this conversation", arg="name",
            arg_help="Model name; leave empty to show the current one", changes="with_arg"),
    Command("memory", "What I remember of this conversation"),
    Command("usage", "Tokens used here, in this server or workspace, and by you",
            help_on=(("discord", "Tokens used here, in this server, and by you"),
                     ("slack", "Tokens used here, in this workspace, and by you"),
                     ("terminal", "Tokens used here and by you"))),
    Command("forget-me", "Delete everything you wrote from my memory", aliases=("forgetme",)),
    Command("channel-mode", "Answer only when addressed, every message, or each question in its own thread",
            arg="mode",
            arg_help="mention: only when addressed; always: every message; thread: a thread per question",
            choices=tuple(mode.value for mode in ChannelMode), changes="with_arg", channel_only=True),
    Command("stop", "Stop the answer I'm writing here", moderated=True),
    Command("thinking", "Let the model think before it answers here (slower, often better)", arg="state",
            arg_help="on or off; leave empty to show it", choices=("on", "off"), changes="with_arg"),
    Command("search", "Let the model search the web when it answers here", arg="state",
            arg_help="on or off; leave empty to show it", choices=("on", "off"), changes="with_arg"),
    Command("reasoning", "How the model reasoned its way to the last answer here"),
)
_BY_NAME = {name: command for command in COMMANDS for name in (command.name, *command.aliases)}


def find(name: str) -> Command | None:
    """The command called `name` ("forget_me", "/Reset" and aliases included), or None."""
    return _BY_NAME.get(name.strip().lstrip("/").lower().replace("_", "-"))


def split(line: str) -> tuple[Command | None, str]:
    """A command line such as "model qwen-plus" as (command, argument); None if it names none."""
    head, _, rest = line.strip().partition(" ")
    return find(head), rest.strip()


def help_text(prefix: str, commands: Iterable[Command] = COMMANDS, extra: Iterable[str] = (),
              platform: str = "") -> str:
    """The command list as each platform writes it, e.g. prefix "/" or "/qwen "."""
    lines = [sentences.COMMANDS_HEADING]
    lines += [f"• `{command.usage(prefix)}`: {command.describe(platform)}" for command in commands]
    lines += [f"• {line}" for line in extra]
    return "\n".join(lines)


def _switch(state: str) -> bool | None:
    """"on" or "off" as a bool; None for anything else."""
    return {"on": True, "off": False}.get(state.strip().lower())


def _tokens(t: Tokens) -> str:
    return sentences.TOKENS.format(total=plural(t.total, "token"), prompt=t.prompt, completion=t.completion)


class Commands:
    """The commands' answers, given the store and settings they read and change."""

    def __init__(self, settings: Settings, store: MemoryStore, lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.store = store
        #: The daily token budgets: `usage` shows what is left, the core refuses messages over them.
        self.budgets = Budgets(settings, store)
        self.lifecycle = lifecycle

    async def reset(self, key: ConversationKey) -> str:
        removed = await self.store.reset(key)
        return sentences.RESET_DONE.format(removed=plural(removed, "message"))

    async def persona(self, key: ConversationKey, text: str | None = None) -> str:
        if text is None or not text.strip():
            current = (await effective_settings(self.store, key)).persona
            if current:
                return sentences.PERSONA_SHOWN.format(persona=current)
            return sentences.PERSONA_DEFAULT
        text = storable(text.strip())
        if text.lower() in CLEAR_WORDS:
            await self.store.update_settings(key, persona=None)
            return sentences.PERSONA_CLEARED
        if len(text) > PERSONA_MAX_CHARS:
            return sentences.PERSONA_TOO_LONG.format(length=len(text), limit=PERSONA_MAX_CHARS)
        await self.store.update_settings(key, persona=text)
        return sentences.PERSONA_SET

    async def model(self, key: ConversationKey, name: str | None = None) -> str:
        available = ", ".join(f"`{m}`" for m in self.settings.qwen_models)
        if name is None or not name.strip():
            current = self.settings.model_for((await effective_settings(self.store, key)).model)
            return sentences.MODEL_SHOWN.format(model=current, available=available)
        name = name.strip()
        if name not in self.settings.qwen_models:
            return sentences.MODEL_UNKNOWN.format(model=storable(name)[:100], available=available)
        await self.store.update_settings(key, model=name)
        return sentences.MODEL_SET.format(model=name)

    async def memory(self, key: ConversationKey) -> str:
        stats = await self.store.stats(key)
        summary = await self.store.summary(key)
        days = self.settings.retention_days
        retention = "" if days is None else (sentences.MEMORY_RETENTION_DAY if days == 1
                                             else sentences.MEMORY_RETENTION.format(days=days))
        if stats.turns == 0 and not summary.text:
            return sentences.MEMORY_EMPTY + retention
        text = sentences.MEMORY_TURNS.format(turns=plural(stats.turns, "message"),
                                             tokens=plural(stats.tokens, "token"))
        if stats.summarised_turns:
            text += sentences.MEMORY_FOLDED.format(folded=stats.summarised_turns)
        text += sentences.MEMORY_BUDGET.format(budget=self.settings.max_context_tokens) + retention
        if summary.text:
            excerpt = summary.text if len(summary.text) <= 300 else summary.text[:297] + "..."
            text += sentences.MEMORY_SUMMARY.format(summary=excerpt)
        return text

    async def usage(self, key: ConversationKey, user_id: str) -> str:
        """Tokens used here, in the server or workspace, and by the user; what budgets leave."""
        report = await self.store.usage(key, user_id, today())
        lines = [sentences.USAGE_CONVERSATION.format(
            today=_tokens(report.conversation_today), total=_tokens(report.conversation_total))]
        if key.space != "dm":
            lines.append(sentences.USAGE_SPACE.format(space=space_word(key.platform),
                                                      today=_tokens(report.space_today),
                                                      total=_tokens(report.space_total)))
        lines.append(sentences.USAGE_USER.format(today=_tokens(report.user_today)))
        up, down = await self.store.votes(key)
        if up or down:
            lines.append(sentences.USAGE_FEEDBACK.format(up=up, down=down))
        left = self.budgets.remaining(key, report)
        return "\n".join([*lines, left] if left else lines)

    async def stop(self, key: ConversationKey, user_id: str, *, anyone: bool = False) -> str:
        """End the answers under way in `key`: the caller's own, or everyone's for a moderator."""
        count = self.lifecycle.halt(self.lifecycle.find(within(key, None if anyone else user_id)), user_id)
        return sentences.STOP_DONE.format(count=plural(count, "answer")) if count else sentences.STOP_NOTHING

    async def stop_answer(self, platform: str, question: str, user_id: str,
                          may_moderate: Callable[[], Awaitable[bool]],
                          key: ConversationKey | None = None) -> str | None:
        """A Stop button: end the answer to `question` (in `key`, if given) for its asker, or for
        whom `may_moderate` allows (asked only when the clicker is not the asker); what to tell
        them, or None once it is stopping (the answer's final text shows it)."""
        answers = [answer for answer in self.lifecycle.find(asked(platform, question))
                   if key is None or answer.key == key]
        if not answers:
            return sentences.STOP_ENDED
        if all(answer.user_id != user_id for answer in answers) and not await may_moderate():
            return sentences.STOP_NOT_YOURS
        self.lifecycle.halt(answers, user_id)
        return None

    async def feedback(self, key: ConversationKey, question: str, user_id: str, up: bool) -> str:
        """A 👍 or 👎 on the answer to `question`: one vote per user and answer, the last one counts.

        Kept beside the answer's turn (same conversation and message id), never in its text, so
        the model never reads it."""
        await self.store.vote(key, f"answer-to:{question}", user_id, 1 if up else -1)
        return sentences.FEEDBACK_THANKS

    async def forget_me(self, platform: str, user_id: str) -> str:
        removed = await self.store.forget_user(platform, user_id)
        return sentences.FORGOTTEN.format(removed=plural(removed, "message"), platform=platform)

    async def channel_mode(self, key: ConversationKey, mode: str | None = None) -> str:
        if mode is None or not mode.strip():
            current = (await self.store.settings(key)).mode
            return sentences.MODE_SHOWN.format(mode=current.value)
        try:
            chosen = ChannelMode(mode.strip().lower())
        except ValueError:
            return sentences.MODE_INVALID
        await self.store.update_settings(key, mode=chosen)
        return {ChannelMode.ALWAYS: sentences.MODE_ALWAYS, ChannelMode.THREAD: sentences.MODE_THREAD}.get(
            chosen, sentences.MODE_MENTION)

    async def thinking(self, key: ConversationKey, state: str | None = None) -> str:
        conv = await effective_settings(self.store, key)
        model = self.settings.model_for(conv.model)
        if state is not None and state.strip():
            switch = _switch(state)
            if switch is None:
                return sentences.ON_OFF
            conv = await self.store.update_settings(key, switches={"thinking": switch})
            text = sentences.THINKING_SET.format(state=state.strip().lower())
        else:
            wanted = thinking_wanted(self.settings, conv)
            text = sentences.THINKING_SHOWN.format(state="on" if wanted else "off", model=model)
        group = thinks(model)
        if group is Thinks.ALWAYS:
            text += sentences.THINKING_ALWAYS.format(model=model)
        elif group is Thinks.NEVER and thinking_wanted(self.settings, conv):
            text += sentences.THINKING_NEVER.format(model=model)
        return text

    async def search(self, key: ConversationKey, state: str | None = None) -> str:
        if not self.settings.on_dashscope:
            return sentences.SEARCH_UNAVAILABLE
        if state is None or not state.strip():
            wanted = search_wanted(self.settings, await effective_settings(self.store, key))
            return sentences.SEARCH_SHOWN.format(state="on" if wanted else "off")
        switch = _switch(state)
        if switch is None:
            return sentences.ON_OFF
        await self.store.update_settings(key, switches={"search": switch})
        return sentences.SEARCH_SET.format(state=state.strip().lower())

    async def run(
        self, command: Command, arg: str, key: ConversationKey, user_id: str, *, moderator: bool = False,
    ) -> str:
        """Answer one command from the registry for `user_id` in `key`; `moderator`: may act on others'."""
        handlers: dict[str, Callable[[], Awaitable[str]]] = {
            "reset": lambda: self.reset(key),
            "persona": lambda: self.persona(key, arg or None),
            "model": lambda: self.model(key, arg or None),
            "memory": lambda: self.memory(key),
            "usage": lambda: self.usage(key, user_id),
            "forget-me": lambda: self.forget_me(key.platform, user_id),
            "channel-mode": lambda: self.channel_mode(key, arg or None),
            "stop": lambda: self.stop(key, user_id, anyone=moderator),
            "thinking": lambda: self.thinking(key, arg or None),
            "search": lambda: self.search(key, arg or None),
            "reasoning": lambda: reasoning.shown(self.settings, self.store, key),
        }
        return await handlers[command.name]()
