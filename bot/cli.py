"""The `qwenbot` command line: chat in the terminal, or serve Discord and Slack."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot import __version__

# `--help` and a bad setting must answer at once: the core, `openai`, the memory backends and the
# platform libraries are imported only by the commands that run them (see bench/startup.py).
if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.config import Settings
    from bot.core import ConversationCore

log = logging.getLogger("qwenbot")

DESCRIPTION = "A Qwen chatbot for Discord, Slack and the terminal, with per-channel memory."


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qwenbot", description=DESCRIPTION,
                                   epilog="Settings come from the environment or a .env file; see README.md.")
    root.add_argument("--version", action="version", version=f"qwenbot {__version__}")
    sub = root.add_subparsers(dest="command", metavar="COMMAND")
    chat = sub.add_parser("chat", help="chat with Qwen in this terminal (memory kept per channel)")
    chat.add_argument("--channel", default="default", help="conversation to use (default: %(default)s)")
    chat.add_argument("--prefix", action="store_true",
                      help="write 'qwen> ' before answers and 'qwen! ' before failures, even when piped")
    sub.add_parser("run", help="start every platform adapter whose credentials are set")
    sub.add_parser("discord", help="serve Discord (needs DISCORD_TOKEN)")
    sub.add_parser("slack", help="serve Slack (needs SLACK_BOT_TOKEN and an app token or signing secret)")
    return root


def configure_logging(level: str, command: str) -> None:
    # The terminal chat owns the screen: at the default level only warnings reach stderr there.
    chosen = logging.WARNING if command == "chat" and level == "INFO" else getattr(logging, level)
    logging.basicConfig(level=chosen, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx2", "httpx", "openai._base_client", "discord.gateway", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(chosen, logging.WARNING))


def choose_adapters(command: str) -> dict[str, Adapter]:
    from bot import adapter
    from bot.config import ConfigError

    if command != "run":
        names = adapter.available()
        if command not in names:
            raise ConfigError(f"the {command} adapter is not installed")
        chosen = adapter.create(command)
        reason = chosen.missing()
        if reason:
            raise ConfigError(f"cannot start {command}: {reason}")
        return {command: chosen}
    ready, skipped = [], []
    for name in sorted(adapter.available()):
        try:
            candidate = adapter.create(name)
        except Exception as exc:  # a broken optional adapter must not stop the others
            log.exception("could not load the %s adapter", name)
            skipped.append(f"{name} (could not load: {exc})")
            continue
        if not candidate.platform:
            continue
        reason = candidate.missing()
        if reason:
            skipped.append(f"{name} ({reason})")
        else:
            ready.append((name, candidate))
    if not ready:
        raise ConfigError("no platform credentials are set: " + "; ".join(skipped)
                          + ". Set them, or try `qwenbot chat` in the terminal.")
    log.info("starting %s%s", ", ".join(n for n, _ in ready),
             f"; not starting {', '.join(skipped)}" if skipped else "")
    return dict(ready)


async def run_adapter(name: str, item: Adapter, core: ConversationCore) -> bool:
    """Serve one platform; False if it crashed (the others keep running) or, for the terminal
    chat, if a message went unanswered (its `failed`), so a script sees a non-zero exit status."""
    from bot.config import ConfigError

    try:
        await item.serve(core)
    except ConfigError:
        raise
    except OSError as exc:
        ready = getattr(item, "ready", None)
        if ready is None or not ready.is_set():
            # Unreachable at start (DNS, refused, TLS): one line, and a non-zero exit for the supervisor.
            raise ConfigError(f"{name}: cannot connect: {exc}") from exc
        log.exception("the %s adapter lost its connection and stopped", name)
        return False
    except Exception:
        log.exception("the %s adapter stopped", name)
        return False
    return not getattr(item, "failed", False)


async def serve(
    settings: Settings, adapters: Mapping[str, Adapter], grace: float | None = None
) -> bool:
    """Run the adapters until they stop or the process is told to; False if any crashed.

    On SIGTERM or Ctrl-C the core ends the answers under way first (up to `grace` seconds, then
    closing each with the interrupted mark), while the platforms are still connected; only then
    are the adapters stopped.
    """
    import asyncio
    import signal

    from bot.core import ConversationCore

    core = await ConversationCore.start(settings)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    runs = [asyncio.create_task(run_adapter(name, item, core)) for name, item in adapters.items()]
    try:
        for done in asyncio.as_completed(runs):
            await done  # a ConfigError from one adapter stops them all
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        try:
            await core.stop(grace)
        finally:
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            await core.close()
    return all(run.result() for run in runs)


def script() -> None:
    """The `qwenbot` command: `main`, then exit without tearing the interpreter down.

    Everything the commands open is closed by then (the core, the store, the adapters); what
    is left is freeing some 100 MB of modules and vocabulary object by object, which took
    longer than answering `echo hi | qwenbot chat` itself.
    """
    import contextlib
    import os

    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away loses nothing of ours
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        parser().print_help()
        return 2
    import asyncio

    from bot import adapter
    from bot.config import ConfigError, Settings, load

    try:
        settings = load(Settings)
        configure_logging(settings.log_level, args.command)
        if args.command == "chat":
            adapters = {"terminal": adapter.create("terminal", channel=args.channel, prefix=args.prefix)}
        else:
            adapters = choose_adapters(args.command)
        # Ctrl-C in the terminal chat means now; a platform bot lets answers under way finish.
        grace = 0.0 if args.command == "chat" else None
        if not asyncio.run(serve(settings, adapters, grace)):
            return 1
    except ConfigError as exc:
        print(f"qwenbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "chat":
            print()  # leave the shell's prompt on a line of its own
        return 130
    except asyncio.CancelledError:
        return 0
    return 0
