"""The operator's port: /metrics, /healthz and /readyz, and the CLI serving them in platform modes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot import cli
from bot.config import ConfigError
from bot.core import ConversationCore
from bot.health import HealthServer
from tests.waiting import until


class Platform:
    """An adapter that connects when told to and runs until cancelled."""

    platform = True

    def __init__(self, connected: bool = True, stops: bool = False) -> None:
        self.ready = asyncio.Event()
        if connected:
            self.ready.set()
        self.stops = stops

    def missing(self) -> str | None:
        return None

    async def serve(self, core: object) -> None:
        if not self.stops:
            await asyncio.Event().wait()


class Terminal(Platform):
    platform = False


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text(), response.headers.get("Content-Type", "")


@pytest.fixture
async def server(core: ConversationCore) -> AsyncIterator[HealthServer]:
    health = HealthServer(core.store, {"discord": Platform(), "slack": Platform(connected=False)})
    await health.start("127.0.0.1", 0)
    yield health
    await health.stop()


async def test_healthz_answers_while_the_loop_runs(server: HealthServer):
    assert (await get(server.port, "/healthz"))[:2] == (200, "ok\n")


async def test_readyz_names_each_adapter_not_connected_in_one_line(server: HealthServer):
    status, text, _ = await get(server.port, "/readyz")
    assert (status, text) == (503, "slack: not connected\n")


async def test_readyz_is_ready_once_every_adapter_is_connected(server: HealthServer):
    server.adapters["slack"].ready.set()
    assert (await get(server.port, "/readyz"))[:2] == (200, "ready\n")


async def test_readyz_names_a_memory_that_does_not_answer(server: HealthServer, core: ConversationCore):
    server.adapters["slack"].ready.set()
    await core.store.close()
    status, text, _ = await get(server.port, "/readyz")
    assert status == 503 and text.startswith("memory: unreachable") and text.count("\n") == 1


async def test_readyz_says_so_while_shutting_down(server: HealthServer):
    server.adapters["slack"].ready.set()
    server.stopping.set()
    assert (await get(server.port, "/readyz"))[:2] == (503, "shutting down\n")


async def test_metrics_are_served_in_prometheus_text_format(server: HealthServer):
    status, text, content_type = await get(server.port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=")
    for name in ("qwenbot_answers_total", "qwenbot_model_calls_in_flight", "qwenbot_first_text_seconds",
                 "process_resident_memory_bytes"):
        assert f"# TYPE {name} " in text


async def test_a_port_already_taken_is_a_one_line_configuration_error(core: ConversationCore):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"METRICS_PORT: cannot listen on 127.0.0.1:{port}"):
            await HealthServer(core.store, {}).start("127.0.0.1", port)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serving_a_platform_with_metrics_port_set_serves_the_probes_until_shutdown(make_settings):
    port = free_port()
    settings = make_settings(metrics_port=port, metrics_host="127.0.0.1")
    running = asyncio.create_task(cli.serve(settings, {"discord": Platform()}, grace=0))

    async def answering() -> bool:
        try:
            return (await get(port, "/readyz"))[0] == 200
        except aiohttp.ClientConnectionError:
            return False

    await until(answering, message="/readyz on METRICS_PORT")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(port, "/healthz")


async def test_the_terminal_chat_opens_no_metrics_port(make_settings, monkeypatch: pytest.MonkeyPatch):
    started: list[int] = []

    async def start(self: HealthServer, host: str, port: int) -> HealthServer:
        started.append(port)
        return self

    monkeypatch.setattr(HealthServer, "start", start)
    settings = make_settings(metrics_port=free_port(), metrics_host="127.0.0.1")
    assert await cli.serve(settings, {"terminal": Terminal(stops=True)}, grace=0)
    assert await cli.serve(settings, {"discord": Platform(stops=True)}, grace=0)
    assert started == [settings.metrics_port]  # the platform only


def test_metrics_port_is_off_unless_set(make_settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("METRICS_PORT", "")
    assert make_settings().metrics_port is None
