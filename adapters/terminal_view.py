"""How the terminal shows answers: formatted Markdown on a screen, plain text in a pipe.

On a terminal, answers are rendered with `rich` as they stream (headings, lists, code blocks with
highlighting). Piped, stdout holds only the answers' text, so `qwenbot chat < questions > answers`
gives exactly what the model wrote; failure sentences and notes go to stderr. `--prefix` keeps
the older transcript form: `qwen> ` before each answer and `qwen! ` before each failure, all on
stdout.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

ANSWER_PREFIX = "qwen> "
FAILURE_PREFIX = "qwen! "


class Style(StrEnum):
    MARKDOWN = "markdown"  # stdout is a terminal
    PLAIN = "plain"  # piped: the answer's text alone
    PREFIXED = "prefixed"  # --prefix: a transcript with `qwen> ` and `qwen! `


def choose(out: TextIO, prefix: bool) -> Style:
    """The style for answers written to `out`."""
    if prefix:
        return Style.PREFIXED
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: write plainly
        tty = False
    return Style.MARKDOWN if tty else Style.PLAIN


def console(out: TextIO) -> Console:
    """A rich console on `out`, imported only when a terminal needs it (`--help` stays fast)."""
    from rich.console import Console

    return Console(file=out, highlight=False, soft_wrap=False)


class MarkdownView:
    """One answer rendered as Markdown while it streams, and left on the screen once finished.

    rich's `Live` redraws the whole answer at each update, cropping it to the screen while it
    grows and printing all of it when stopped, so a long answer ends up whole in the scrollback.
    """

    def __init__(self, screen: Console) -> None:
        self.screen = screen
        self._live: Live | None = None

    def show(self, text: str) -> None:
        from rich.live import Live
        from rich.markdown import Markdown

        if self._live is None:
            # No redirection: the stdin thread and the log handler keep their own streams.
            self._live = Live(console=self.screen, auto_refresh=False, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()
        self._live.update(Markdown(text), refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def note(self, text: str, style: str) -> None:
        """A line that is not part of the answer (a failure, a notice), below what is shown."""
        self.close()
        self.screen.print(text, style=style, markup=False, highlight=False)
