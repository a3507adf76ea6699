"""A scriptable OpenAI-compatible chat server on 127.0.0.1, speaking real HTTP and SSE.

Tests queue `Script`s; each request to /chat/completions takes the next one (or the default).
Every request body is recorded so tests can assert what the model was sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.thinking import Thinks, thinks


@dataclass
class Script:
    text: str = "Hello from fake Qwen."
    chunks: int | None = None  # None: one chunk per word
    delay: float = 0.0  # seconds between chunks
    first_delay: float = 0.0  # seconds before the first chunk (after headers)
    status: int = 200  # non-200: an error response instead of a stream
    error_code: str = ""
    error_message: str = "error"
    retry_after: float | None = None
    cut_after: int | None = None  # drop the connection after this many chunks
    error_after: int | None = None  # send an in-stream error event (error_code) after this many chunks
    prompt_tokens: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Faults a misbehaving model server shows:
    bad_chunk: str | None = None  # a raw `data:` payload sent after `bad_after` chunks, e.g. "{not json"
    bad_after: int = 0
    keepalive: float = 0.0  # while waiting `first_delay`, send an SSE comment this often (seconds)
    reasoning: str = ""  # streamed as `reasoning_content`, one chunk per word, before the text
    reasoning_delay: float = 0.0  # seconds between reasoning chunks

    def pieces(self) -> list[str]:
        if not self.text:
            return []
        if self.chunks is None:
            words = self.text.split(" ")
            return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        size = max(1, -(-len(self.text) // self.chunks))
        return [self.text[i : i + size] for i in range(0, len(self.text), size)]


#: The request fields that switch thinking and web search (see `FakeQwen.flags`).
FLAGS = ("enable_thinking", "thinking_budget", "enable_search", "search_options")


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            return str(content)
    return ""


class FakeQwen:
    def __init__(self) -> None:
        self.scripts: deque[Script] = deque()
        self.responder: Callable[[dict[str, Any]], Script] = lambda body: Script()
        self.requests: list[dict[str, Any]] = []
        self.request_times: list[float] = []
        self.first_token_times: list[float] = []
        self.auth_headers: list[str] = []
        self.client_ports: set[int] = set()  # one per TCP connection the client opened
        self.in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def queue(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    async def start(self) -> FakeQwen:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def flags(self) -> list[dict[str, Any]]:
        """The thinking and search fields each request carried, in order (absent ones left out)."""
        return [{name: body[name] for name in FLAGS if name in body} for body in self.requests]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Requests that were replies to users, leaving out background summary calls."""
        return [r for r in self.requests if r.get("stream")]

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.request_times.append(time.perf_counter())
        self.auth_headers.append(request.headers.get("Authorization", ""))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.client_ports.add(peer[1])
        script = self.scripts.popleft() if self.scripts else self.responder(body)
        if script.status != 200:
            headers = dict(script.headers)
            if script.retry_after is not None:
                headers["Retry-After"] = str(script.retry_after)
            error = {"code": script.error_code, "message": script.error_message, "type": script.error_code}
            return web.json_response(
                {"error": error, "request_id": "fake-request"}, status=script.status, headers=headers
            )
        if not body.get("stream"):
            if thinks(body.get("model", "")) is Thinks.ALWAYS:
                # As Model Studio answers QwQ and `*-thinking` models called without streaming.
                error = {"code": "invalid_parameter_error", "type": "invalid_request_error",
                         "message": "This model only support stream mode, "
                                    "please enable the stream parameter."}
                return web.json_response({"error": error, "request_id": "fake-request"}, status=400)
            return web.json_response(self._completion(body, script))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if script.first_delay:
            await self._wait_first(response, script)
        for thought in script.reasoning.split(" ") if script.reasoning else []:
            await response.write(self._event(body, {"reasoning_content": thought, "role": "assistant"}, None))
            if script.reasoning_delay:
                await asyncio.sleep(script.reasoning_delay)
        pieces = script.pieces()
        for index, piece in enumerate(pieces):
            if script.bad_chunk is not None and index == script.bad_after:
                await response.write(f"data: {script.bad_chunk}\n\n".encode())
            if script.error_after is not None and index >= script.error_after:
                error = {"code": script.error_code, "message": script.error_message}
                await response.write(f"data: {json.dumps({'error': error})}\n\n".encode())
                await response.write_eof()
                return response
            if script.cut_after is not None and index >= script.cut_after:
                assert request.transport is not None
                request.transport.close()
                return response
            if index == 0:
                self.first_token_times.append(time.perf_counter())
            await response.write(self._event(body, {"content": piece, "role": "assistant"}, None))
            if script.delay:
                await asyncio.sleep(script.delay)
        await response.write(self._event(body, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = self._usage(body, script, len(pieces))
            chunk = {**self._base(body), "choices": [], "usage": usage}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _wait_first(self, response: web.StreamResponse, script: Script) -> None:
        if not script.keepalive:
            await asyncio.sleep(script.first_delay)
            return
        until = time.perf_counter() + script.first_delay
        while (left := until - time.perf_counter()) > 0:
            await response.write(b": keep-alive\n\n")
            await asyncio.sleep(min(left, script.keepalive))

    def _base(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                "model": body.get("model", "")}

    def _event(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {**self._base(body), "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    def _usage(self, body: dict[str, Any], script: Script, completion: int) -> dict[str, int]:
        prompt = script.prompt_tokens
        if prompt is None:
            prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def _completion(self, body: dict[str, Any], script: Script) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
            "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": script.text}}],
            "usage": self._usage(body, script, len(script.pieces())),
        }


async def _serve_forever(port: int, words: int) -> None:
    server = FakeQwen()
    server.port = port
    if words:
        answer = " ".join(f"word{i}" for i in range(words))
        server.responder = lambda body: Script(text=answer)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server._chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sys.stdout.write(f"{bound}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m tests.fakes.qwen [PORT] [WORDS]` serves a zero-delay answer (the default one, or
    # WORDS words streamed one chunk each), for benchmarks in another process.
    import sys

    asyncio.run(_serve_forever(int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                               int(sys.argv[2]) if len(sys.argv) > 2 else 0))
