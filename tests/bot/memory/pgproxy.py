"""A TCP relay between a store and the PostgreSQL test server, that can lose what the server says.

The store connects through it as it would to the server. A test can
- `lose_reply_to(b"INSERT INTO turns")`: the next time a connection prepares a statement holding
  those bytes and then executes it, the server runs it (and commits: autocommit) but its reply
  is dropped and the connection cut, as when a network fails at the worst moment;
- `go_down()` / `come_back()`: cut every connection and refuse new ones, as a restarting server does;
- `go_silent()`: drop everything either side sends without closing anything, as a network that
  loses packets does (no reset ever arrives: only a timeout tells).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

READY_FOR_QUERY = b"Z\x00\x00\x00\x05"


class PgProxy:
    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target_url = parts
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._lose: bytes | None = None
        self.lost_replies = 0
        self.up = True
        self.silent = False

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        netloc = self._target_url.netloc.rpartition("@")
        user = netloc[0] + "@" if netloc[1] else ""
        return urlunsplit(self._target_url._replace(netloc=f"{user}127.0.0.1:{port}"))

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        self.go_down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def lose_reply_to(self, statement: bytes) -> None:
        self._lose = statement

    def go_down(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.close()

    def go_silent(self) -> None:
        self.silent = True

    def come_back(self) -> None:
        self.up = True

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if not self.up:
            client_writer.close()
            return
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        self._writers |= {client_writer, server_writer}
        # "prepared": the armed statement was prepared on this connection; "executing": its
        # execution went to the server, whose reply is to be lost.
        state = {"phase": "idle"}

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if self.silent:
                    continue
                if self._lose and state["phase"] == "idle" and self._lose in data:
                    state["phase"] = "prepared"
                elif state["phase"] == "prepared" and data[:1] == b"B":
                    state["phase"] = "executing"
                    self._lose = None
                server_writer.write(data)
                await server_writer.drain()

        async def downstream() -> None:
            reply = b""
            while data := await server_reader.read(65536):
                if self.silent:
                    continue
                if state["phase"] == "executing":
                    reply += data
                    if READY_FOR_QUERY in reply:  # the statement ran and committed: drop its reply
                        self.lost_replies += 1
                        return
                    continue
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in (client_writer, server_writer):
            self._writers.discard(writer)
            writer.close()
