"""The operator's port: Prometheus metrics, liveness and readiness, on `METRICS_PORT`.

- `/metrics`: every metric in `bot.metrics` (and the process's own) in Prometheus text format.
- `/healthz`: 200 while the process and its event loop are alive; the loop serves the answer,
  so a blocked loop is a probe that times out.
- `/readyz`: 200 when the memory store answers and every adapter is connected; otherwise 503
  and one line saying why (e.g. "discord: not connected").

Slack's HTTP mode keeps its own port for events; this one carries nothing a user sends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from bot.config import ConfigError

if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.memory import MemoryStore

log = logging.getLogger(__name__)

#: Seconds the store gets to answer the readiness query; a slower store is not ready.
PING_SECONDS = 2.0


class HealthServer:
    """The HTTP server for metrics and probes, for one process's store and adapters."""

    def __init__(self, store: MemoryStore, adapters: Mapping[str, Adapter]) -> None:
        self.store = store
        self.adapters = dict(adapters)
        #: Set once shutdown has begun: the process is then no longer ready for new work.
        self.stopping = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._last_reason = ""

    async def start(self, host: str, port: int) -> HealthServer:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            reason = exc.strerror or str(exc)
            raise ConfigError(f"METRICS_PORT: cannot listen on {host}:{port} ({reason})") from None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("metrics and health checks on port %d (/metrics, /healthz, /readyz)", self.port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def not_ready(self) -> str | None:
        """Why the process cannot take work now, in one line; None when it can."""
        if self.stopping.is_set():
            return "shutting down"
        reasons = []
        try:
            async with asyncio.timeout(PING_SECONDS):
                await self.store.ping()
        except TimeoutError:
            reasons.append(f"memory: no answer within {PING_SECONDS:g} s")
        except Exception as exc:
            reasons.append(f"memory: unreachable ({type(exc).__name__})")
        reasons += [f"{name}: not connected" for name, adapter in self.adapters.items()
                    if not await _connected(adapter)]
        return "; ".join(reasons) or None

    async def _metrics(self, request: web.Request) -> web.Response:
        # The text format, or OpenMetrics for a scraper that asks for it.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(REGISTRY), headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = await self.not_ready()
        if (reason or "") != self._last_reason:  # once per change, not once per probe
            if reason:
                log.warning("not ready: %s", reason)
            else:
                log.info("ready again")
            self._last_reason = reason or ""
        if reason:
            return web.Response(status=503, text=reason + "\n")
        return web.Response(text="ready\n")


async def _connected(adapter: Adapter) -> bool:
    """Connected once, and still: an adapter may tell (`connected()`) while its library reconnects."""
    if not adapter.ready.is_set():
        return False
    check = getattr(adapter, "connected", None)
    if check is None:
        return True
    try:
        return bool(await check())
    except Exception:
        log.debug("%s: connection check failed", type(adapter).__name__, exc_info=True)
        return False
