"""What the process does when one of its platforms cannot start or stops: `ON_PLATFORM_FAILURE`.

`stop` (the default) ends the whole process, with status 2 when a platform could not start (a
refused token, an unreachable endpoint) and 1 when one crashed after it was serving, so that an
orchestrator restarts it and alerts: a process left serving Slack with Discord dead looks
healthy from the outside. `continue` keeps the other platforms running, logging the failure at
ERROR, and ends only when none is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import ConfigError, OnFailure

if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.core import ConversationCore

log = logging.getLogger("qwenbot")


@dataclass(frozen=True)
class Failure:
    name: str
    #: True when the platform never started serving (exit status 2), False for a crash (1).
    at_start: bool
    reason: str


async def run_adapter(name: str, item: Adapter, core: ConversationCore) -> Failure | None:
    """Serve one platform until it ends by itself (None) or fails (why); never raises but when cancelled."""
    try:
        await item.serve(core)
    except ConfigError as exc:
        return Failure(name, True, str(exc))
    except OSError as exc:
        ready = getattr(item, "ready", None)
        if ready is None or not ready.is_set():
            # Unreachable at start (DNS, refused, TLS): one line, not a traceback.
            return Failure(name, True, f"{name}: cannot connect: {exc}")
        log.exception("the %s adapter lost its connection and stopped", name)
        return Failure(name, False, f"{name} lost its connection")
    except Exception as exc:
        log.exception("the %s adapter stopped", name)
        return Failure(name, False, f"{name} crashed ({type(exc).__name__})")
    return None


async def watch(runs: Mapping[asyncio.Task[Failure | None], str], policy: OnFailure) -> list[Failure]:
    """Wait on the adapters' runs until the policy says stop, or none is left; the failures seen.

    Nothing is cancelled here: the caller first lets the answers under way end while the
    healthy platforms are still connected, then stops them (see `bot.cli.serve`).
    """
    failures: list[Failure] = []
    pending = set(runs)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        new = sorted((f for task in done if (f := task.result()) is not None), key=lambda f: f.name)
        failures += new
        others = ", ".join(sorted(runs[task] for task in pending))
        for failure in new:
            reason = failure.reason.rstrip(".")
            if not pending:
                if len(runs) > 1:
                    log.error("%s; no platform is left running", reason)
            elif policy is OnFailure.STOP:
                log.error("%s; stopping %s too (ON_PLATFORM_FAILURE=stop), so that qwenbot exits "
                          "and can be restarted", reason, others)
            else:
                log.error("%s; carrying on with %s (ON_PLATFORM_FAILURE=continue)", reason, others)
        if new and policy is OnFailure.STOP:
            break
    return failures


def verdict(failures: list[Failure], started: int, policy: OnFailure) -> bool:
    """True for a clean end, False after a crash (exit 1); ConfigError when starting failed (exit 2)."""
    if not failures:
        return True
    at_start = [f.reason for f in failures if f.at_start]
    # Under `continue` a platform that could not start is a start-up error only if none could.
    if len(at_start) == len(failures) and (policy is OnFailure.STOP or len(failures) == started):
        raise ConfigError(at_start[0] if len(at_start) == 1 else "; ".join(r.rstrip(".") for r in at_start))
    return False
