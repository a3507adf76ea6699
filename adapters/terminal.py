"""A local chat in the terminal through the same core, for trying the bot without a platform.

Answers stream token by token. With stdin piped it answers each line in turn and exits at the
end of input, so `echo hi | qwenbot chat` works in scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
import threading
import time
from typing import TextIO

from bot import commands, sentences
from bot.config import ConfigError
from bot.core import ConversationCore, Outcome
from bot.reply import Reply, Status
from bot.types import Author, ConversationKey, Incoming, Trigger

QUIT = {"/quit", "/exit"}
DIM, NORMAL, ERASE_LINE = "\033[2m", "\033[0m", "\033[K"
#: The terminal's conversations are the user's own: channel settings have no meaning here.
OFFERED = tuple(command for command in commands.COMMANDS if not command.channel_only)
HELP = commands.help_text("/", OFFERED, extra=[sentences.TERMINAL_QUIT])


class TerminalReply(Reply):
    """Writes each new piece of the answer as it arrives."""

    update_interval = 0.0

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown = ""
        self._status = ""  # the activity of the status line shown, if any

    def _show(self, text: str) -> None:
        if not self.shown:
            self.out.write("qwen> ")
        if text.startswith(self.shown):
            self.out.write(text[len(self.shown):])
        else:  # the text was rewritten; show the whole of it again
            self.out.write("\n" + text)
        self.shown = text
        self.out.flush()

    async def status(self, status: Status | None) -> None:
        """A dim line rewritten in place on a terminal; in a pipe, one line per activity."""
        tty = self.out.isatty()
        if status is None:
            if tty and self._status:
                self.out.write("\r" + ERASE_LINE)
        elif tty:
            self.out.write(f"\r{DIM}{status.text}{NORMAL}{ERASE_LINE}")
        elif status.activity != self._status:
            self.out.write(f"({status.text})\n")
        self._status = status.activity if status is not None else ""
        self.out.flush()

    async def notice(self, text: str) -> None:
        self.out.write(f"({text})\n")
        self.out.flush()

    async def partial(self, text: str) -> None:
        self._show(text)

    async def finish(self, text: str) -> None:
        self._show(text)
        self.out.write("\n")
        self.out.flush()

    async def fail(self, message: str) -> None:
        if self.shown:
            self.out.write("\n")
        self.out.write(f"qwen! {message}\n")
        self.out.flush()


class TerminalAdapter:
    platform = False

    def __init__(self, channel: str = "default", stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        if not channel.strip():
            raise ConfigError("--channel needs a name")
        # One person at a keyboard: a direct conversation, so turns carry no names.
        self.key = ConversationKey("terminal", "dm", channel.strip())
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        user = getpass.getuser()
        self.author = Author(id=user, name=user)
        self.ready = asyncio.Event()
        self._prompt = threading.Event()

    def missing(self) -> str | None:
        return None

    @property
    def interactive(self) -> bool:
        return self.stdin is sys.stdin and self.stdin.isatty()

    def _start_reader(self) -> asyncio.Queue[str | None]:
        """Lines from stdin, read by a daemon thread so Ctrl-C never waits on a blocked read."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def deliver(line: str | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: we are exiting
                loop.call_soon_threadsafe(lines.put_nowait, line)

        def read() -> None:
            if self.interactive:
                import readline  # noqa: F401  (gives input() line editing and history)

                while self._prompt.wait():
                    self._prompt.clear()  # the next prompt waits until this line is answered
                    try:
                        deliver(input("you> ") + "\n")
                    except EOFError:
                        self.stdout.write("\n")
                        break
            else:
                for line in iter(self.stdin.readline, ""):
                    deliver(line)
            deliver(None)

        threading.Thread(target=read, name="stdin", daemon=True).start()
        return lines

    async def _read_line(self, lines: asyncio.Queue[str | None]) -> str | None:
        self._prompt.set()
        return await lines.get()

    async def serve(self, core: ConversationCore) -> None:
        lines = self._start_reader()
        self.ready.set()
        if self.interactive:
            model = await core.model_of(self.key)
            greeting = sentences.TERMINAL_GREETING.format(channel=self.key.channel, model=model)
            self.stdout.write(greeting + "\n")
        while (line := await self._read_line(lines)) is not None:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            if text.strip() in QUIT:
                break
            if text.startswith("/"):
                await self._command(core, text)
                continue
            incoming = Incoming(self.key, f"terminal-{time.time_ns()}", self.author, text,
                                trigger=Trigger.DM)
            outcome = await core.handle(incoming, TerminalReply(self.stdout))
            if outcome in (Outcome.RATE_LIMITED, Outcome.RATE_LIMITED_AGAIN):
                # One person at a keyboard: say it every time, not once per window.
                self.stdout.write(f"({sentences.RATE_LIMITED})\n")
                self.stdout.flush()

    async def _command(self, core: ConversationCore, line: str) -> None:
        command, arg = commands.split(line)
        if command is None or command not in OFFERED:
            answer = HELP
        else:
            answer = await core.commands.run(command, arg, self.key, self.author.id)
        self.stdout.write(answer + "\n")
        self.stdout.flush()
