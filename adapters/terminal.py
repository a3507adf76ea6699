"""A local chat in the terminal through the same core, for trying the bot without a platform.

Answers stream token by token, formatted as Markdown on a terminal and as plain text in a pipe
(see `terminal_view`). With stdin piped it answers each line in turn and exits at the end of
input, so `echo hi | qwenbot chat` works in scripts; the exit status is 1 if any answer failed.
Ctrl-C during an answer stops it like `stop` (the text so far stays, marked "(stopped)"); a
second Ctrl-C, or one at the prompt, quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from adapters.terminal_view import (
    ANSWER_PREFIX,
    FAILURE_PREFIX,
    MarkdownView,
    Style,
    choose,
    console,
)
from bot import commands, sentences
from bot.config import ConfigError
from bot.core import ConversationCore, Outcome
from bot.lifecycle import within
from bot.reply import Reply, Status
from bot.types import Author, ConversationKey, Incoming, Trigger

if TYPE_CHECKING:
    from rich.console import Console

QUIT = {"/quit", "/exit"}
#: A command is `/name`; a line starting with a path ("/etc/hosts is what?") is a question.
COMMAND = re.compile(r"/[A-Za-z][\w-]*(?:\s|$)")
DIM, NORMAL, ERASE_LINE = "\033[2m", "\033[0m", "\033[K"
#: The terminal's conversations are the user's own: channel settings have no meaning here.
OFFERED = tuple(command for command in commands.COMMANDS if not command.channel_only)
HELP = commands.help_text("/", OFFERED, extra=[sentences.TERMINAL_QUIT], platform="terminal")
#: Seconds between two redraws of a Markdown answer while it streams.
MARKDOWN_INTERVAL = 0.05
#: What a message that got no answer ends as; any of them makes the exit status 1.
UNANSWERED = frozenset({Outcome.FAILED, Outcome.RATE_LIMITED, Outcome.RATE_LIMITED_AGAIN,
                        Outcome.OVER_BUDGET})


class TerminalReply(Reply):
    """Writes each new piece of the answer as it arrives, in the style `terminal_view` chose."""

    update_interval = 0.0

    def __init__(self, out: TextIO, style: Style = Style.PREFIXED, errors: TextIO | None = None,
                 screen: Console | None = None) -> None:
        self.out = out
        self.style = style
        # Piped, stdout is for answers alone: failures and notes go to stderr.
        self.errors = errors if errors is not None and style is Style.PLAIN else out
        self.view = MarkdownView(screen or console(out)) if style is Style.MARKDOWN else None
        if self.view is not None:
            # Redrawing the whole Markdown at every token would cost more than it shows.
            self.update_interval = MARKDOWN_INTERVAL
        self.shown = ""
        self._status = ""  # the activity of the status line shown, if any
        #: The stream broke and the answer ended with the interrupted mark: not the whole answer.
        self.cut = False

    def _show(self, text: str) -> None:
        if self.view is not None:
            self.view.show(text)
        else:
            if not self.shown and self.style is Style.PREFIXED:
                self.out.write(ANSWER_PREFIX)
            if text.startswith(self.shown):
                self.out.write(text[len(self.shown):])
            else:  # the text was rewritten; show the whole of it again
                self.out.write("\n" + text)
            self.out.flush()
        self.shown = text

    def _note(self, text: str, style: str) -> None:
        if self.view is not None:
            self.view.note(text, style)
            return
        self.errors.write(text + "\n")
        self.errors.flush()

    async def status(self, status: Status | None) -> None:
        """A dim line rewritten in place on a terminal; in a pipe, one line per activity."""
        tty = self.out.isatty()
        if status is None:
            if tty and self._status:
                self.out.write("\r" + ERASE_LINE)
        elif tty:
            self.out.write(f"\r{DIM}{status.text}{NORMAL}{ERASE_LINE}")
        elif status.activity != self._status:
            # Piped, stdout holds the answers alone: the status is a note like any other.
            self.errors.write(f"({status.text})\n")
            self.errors.flush()
        self._status = status.activity if status is not None else ""
        self.out.flush()

    async def notice(self, text: str) -> None:
        self._note(f"({text})", "dim")

    async def partial(self, text: str) -> None:
        self._show(text)

    async def finish(self, text: str) -> None:
        self.cut = text.endswith(sentences.INTERRUPTED_MARK)
        self._show(text)
        if self.view is not None:
            self.view.close()
            return
        self.out.write("\n")
        self.out.flush()

    async def fail(self, message: str) -> None:
        if self.shown and self.view is None:
            self.out.write("\n")
            self.out.flush()
        prefix = FAILURE_PREFIX if self.style is Style.PREFIXED else ""
        self._note(prefix + message, "bold red")


class TerminalAdapter:
    platform = False

    def __init__(self, channel: str = "default", stdin: TextIO | None = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None, *, prefix: bool = False) -> None:
        if not channel.strip():
            raise ConfigError("--channel needs a name")
        # One person at a keyboard: a direct conversation, so turns carry no names.
        self.key = ConversationKey("terminal", "dm", channel.strip())
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.style = choose(self.stdout, prefix)
        self._screen: Console | None = console(self.stdout) if self.style is Style.MARKDOWN else None
        #: Whether a message got no answer (a failure or the rate limit): `qwenbot chat` exits with 1.
        self.failed = False
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

    def _write(self, text: str, *, note: bool = False) -> None:
        """A command's answer (Markdown), or with `note` a line that is not an answer."""
        if self._screen is not None:
            from rich.markdown import Markdown

            self._screen.print(Markdown(text), style="dim" if note else "")
            return
        stream = self.stderr if note and self.style is Style.PLAIN else self.stdout
        stream.write(text + "\n")
        stream.flush()

    async def serve(self, core: ConversationCore) -> None:
        with self._terminal_kept():
            await self._serve(core)

    @contextlib.contextmanager
    def _terminal_kept(self) -> Iterator[None]:
        """The keyboard's terminal as it was, whatever ends the chat.

        readline turns echo and line editing off while it reads a line; a Ctrl-C at the prompt
        ends the process in the middle of that read, and the shell would go on typing blind.
        """
        if not self.interactive:
            yield
            return
        import termios

        fd = self.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            yield
        finally:
            with contextlib.suppress(termios.error):  # the terminal went away: nothing to restore
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    async def _serve(self, core: ConversationCore) -> None:
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
            if COMMAND.match(text):
                await self._command(core, text)
                continue
            incoming = Incoming(self.key, f"terminal-{time.time_ns()}", self.author, text,
                                trigger=Trigger.DM)
            reply = TerminalReply(self.stdout, self.style, self.stderr, self._screen)
            with self._ctrl_c_stops(core):
                outcome = await core.handle(incoming, reply)
            self.failed |= outcome in UNANSWERED or reply.cut
            if outcome in (Outcome.RATE_LIMITED, Outcome.RATE_LIMITED_AGAIN):
                # One person at a keyboard: say it every time, not once per window.
                self._write(f"({sentences.RATE_LIMITED})", note=True)

    @contextlib.contextmanager
    def _ctrl_c_stops(self, core: ConversationCore) -> Iterator[None]:
        """While an answer runs, the first Ctrl-C stops it; a second one quits as Ctrl-C always does."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach the main thread only (tests may run the adapter elsewhere)
            return
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGINT)
        pressed = False

        def stop() -> None:
            if not core.lifecycle.halt(core.lifecycle.find(within(self.key, self.author.id)), self.author.id):
                # The answer was over (shown, being stored): this Ctrl-C came at the prompt, in effect.
                quit_(signal.SIGINT, None)

        def on_ctrl_c(signum: int, frame: FrameType | None) -> None:
            nonlocal pressed
            if not pressed:
                pressed = True
                loop.call_soon_threadsafe(stop)
                return
            quit_(signum, frame)

        def quit_(signum: int, frame: FrameType | None) -> None:
            signal.signal(signal.SIGINT, previous)
            if callable(previous):
                previous(signum, frame)  # asyncio's own: cancels the chat, which then exits
            else:
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_ctrl_c)
        try:
            yield
        finally:
            if signal.getsignal(signal.SIGINT) is on_ctrl_c:
                signal.signal(signal.SIGINT, previous)

    async def _command(self, core: ConversationCore, line: str) -> None:
        name = line.strip().split()[0]
        command, arg = commands.split(line)
        if name in ("/help", "/?"):
            self._write(HELP)
        elif command is not None and command.channel_only:
            self._write(sentences.TERMINAL_NO_CHANNEL_MODE)
        elif command is None or command not in OFFERED:
            self._write(sentences.UNKNOWN_COMMAND.format(command=name[:40]), note=True)
        else:
            self._write(await core.commands.run(command, arg, self.key, self.author.id))
