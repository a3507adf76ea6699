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
    purge = sub.add_parser("purge", help="delete messages, usage and event records older than DAYS, now")
    purge.add_argument("--older-than", type=days, required=True, metavar="DAYS",
                       help="age in whole days (1 to 36500) past which records are deleted")
    return root


def days(text: str) -> int:
    """A number of days for `purge --older-than`: a whole number, as RETENTION_DAYS takes."""
    from bot.config import MAX_RETENTION_DAYS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of days from 1 to {MAX_RETENTION_DAYS}")
    return value


async def purge(settings: Settings, older_than: int) -> int:
    """`qwenbot purge`: delete what is older than `older_than` days and say how much, per kind."""
    import sqlite3

    from bot.memory import MemoryUnavailable, open_store
    from bot.retention import cutoff
    from bot.sentences import plural

    store = await open_store(settings.database_url)
    try:
        purged = await store.purge(cutoff(older_than))
    except (MemoryUnavailable, sqlite3.Error) as exc:
        # Each batch commits on its own: what went is gone, and running it again finishes the rest.
        print(f"qwenbot: the purge stopped part-way, the database failing ({exc}); run it again",
              file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"Removed what was older than {plural(older_than, 'day')}:")
    for kind, count in purged.counts().items():
        print(f"  {kind}: {count}")
    return 0


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


async def serve(
    settings: Settings, adapters: Mapping[str, Adapter], grace: float | None = None
) -> bool:
    """Run the adapters until they stop or the process is told to; False if any crashed.

    A platform that cannot start or that crashes stops them all, or only itself, as
    `ON_PLATFORM_FAILURE` says (`bot.supervisor`); one that could not start raises ConfigError.
    On SIGTERM or Ctrl-C, and when stopping for a failure, the core ends the answers under way
    first (up to `grace` seconds, then closing each with the interrupted mark), while the
    platforms are still connected; only then are the adapters stopped.
    """
    import asyncio
    import signal

    from bot.core import ConversationCore
    from bot.retention import Sweeper
    from bot.supervisor import run_adapter, verdict, watch

    core = await ConversationCore.start(settings)
    sweeper = Sweeper.start(core.store, settings.retention_days)
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if main is not None:
        loop.add_signal_handler(signal.SIGTERM, main.cancel)
    runs = {asyncio.create_task(run_adapter(name, item, core)): name for name, item in adapters.items()}
    health = None
    try:
        # Every platform mode serves metrics and probes when asked to; the terminal chat never does.
        if settings.metrics_port is not None and any(item.platform for item in adapters.values()):
            from bot.health import HealthServer

            health = HealthServer(core.store, adapters)
            await health.start(settings.metrics_host, settings.metrics_port)
        failures = await watch(runs, settings.on_platform_failure)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if health is not None:
            health.stopping.set()
        try:
            await core.stop(grace)
        finally:
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
            if sweeper is not None:
                await sweeper.close()
            await core.close()
            if health is not None:
                await health.stop()
    return verdict(failures, len(runs), settings.on_platform_failure)


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
    from bot.logs import configure

    try:
        settings = load(Settings)
        configure(settings.log_level, args.command, settings.log_format)
        if args.command == "purge":
            return asyncio.run(purge(settings, args.older_than))
        if args.command == "chat":
            adapters = {"terminal": adapter.create("terminal", channel=args.channel, prefix=args.prefix)}
        else:
            adapters = choose_adapters(args.command)
        # Ctrl-C in the terminal chat means now; a platform bot lets answers under way finish.
        grace = 0.0 if args.command == "chat" else None
        served = asyncio.run(serve(settings, adapters, grace))
        # The terminal chat also exits non-zero when a message went unanswered or was cut short, for scripts.
        if not served or any(getattr(item, "failed", False) for item in adapters.values()):
            return 1
    except ConfigError as exc:
        print(f"qwenbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "chat" and sys.stdout.isatty():
            print()  # leave the shell's prompt on a line of its own (a pipe gets answers alone)
        return 130
    except asyncio.CancelledError:
        return 0
    return 0
