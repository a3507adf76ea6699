"""A thin streaming client for Qwen's OpenAI-compatible API.

It yields text deltas and a final `Usage`, and turns every failure into an `LLMError` carrying one
short sentence a chat user can read. A stream that breaks after text arrived raises
`StreamInterrupted` instead, so the caller can keep what it has.

The SDK builds and sends the request (auth, headers, status errors); the event stream is read
from its raw response and parsed in `bot.sse`, which costs a fraction of the SDK's per-chunk
models. Retries before the first token are ours, not the SDK's, so that their total wait has one
bound (`Settings.first_token_budget`) and a 429 is never mistaken for a slow model. Every call
holds one of the client's `CallSlots`, which a call without a first token gives back after
`QWEN_STALL_GRACE`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any

import openai
from openai import AsyncOpenAI

from bot import metrics, sentences
from bot.config import Settings
from bot.slots import CallSlots
from bot.sse import DONE, Reasoning, SSEDecoder, StreamErrorEvent, StreamFault, Usage, chunk_events
from bot.thinking import Thinks, not_thinking, thinks

__all__ = ["MESSAGES", "LLMError", "QwenClient", "Reasoning", "StreamInterrupted", "Usage", "classify"]

log = logging.getLogger(__name__)


class LLMError(Exception):
    """The model call failed; `user_message` is safe to show in chat."""

    def __init__(self, kind: str, user_message: str) -> None:
        super().__init__(f"{kind}: {user_message}")
        self.kind = kind
        self.user_message = user_message


class StreamInterrupted(Exception):
    """The stream broke after some text had arrived."""


class _TransportError(Exception):
    """Reading the response body failed (the connection dropped, or the socket timed out)."""


MESSAGES = {
    "auth": sentences.QWEN_AUTH,
    "forbidden": sentences.QWEN_FORBIDDEN,
    "rate_limited": sentences.QWEN_RATE_LIMITED,
    "content_refused": sentences.QWEN_CONTENT_REFUSED,
    "unknown_model": sentences.QWEN_UNKNOWN_MODEL,
    "arrearage": sentences.QWEN_ARREARAGE,
    "timeout": sentences.QWEN_TIMEOUT,
    "unreachable": sentences.QWEN_UNREACHABLE,
    "server_error": sentences.QWEN_SERVER_ERROR,
    "bad_stream": sentences.QWEN_BAD_STREAM,
    "bad_request": sentences.QWEN_BAD_REQUEST,
    "unknown": sentences.QWEN_UNKNOWN,
}

#: Failures before the first token that another try may cure; a 429 has rules of its own.
RETRYABLE = frozenset({"timeout", "unreachable", "server_error"})


def _error(kind: str, model: str, **fields: str) -> LLMError:
    return LLMError(kind, MESSAGES[kind].format(model=model, **fields))


def _from_error_object(code: str, message: str, status: int | None, model: str) -> LLMError:
    """Classify an error by the code and message in its body, and its HTTP status if any."""
    text = f"{code} {message}".lower()
    if "data_inspection_failed" in text or "inappropriate" in text:
        return _error("content_refused", model)
    if "arrearage" in text:
        return _error("arrearage", model)
    if status == 404 or "model_not_found" in text or (
        "model" in text and ("not exist" in text or "not found" in text or "unknown" in text)
    ):
        return _error("unknown_model", model)
    if status is not None and status >= 500:
        return _error("server_error", model)
    return _error("bad_request", model, detail=code or (f"HTTP {status}" if status else "stream error"))


def _error_code(body: object) -> str:
    # A status error's body is {"error": {...}}; an error sent inside the stream is the inner dict.
    error = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or "")
    return ""


def classify(exc: BaseException, model: str) -> LLMError:
    """Map an SDK or stream exception to an `LLMError` with a short sentence for the chat."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.AuthenticationError):
        return _error("auth", model)
    if isinstance(exc, openai.PermissionDeniedError):
        # 403: the key is valid but may not use this model (or this workspace), unlike a 401.
        arrears = "arrearage" in f"{_error_code(exc.body)} {exc.message}".lower()
        return _error("arrearage" if arrears else "forbidden", model)
    if isinstance(exc, openai.RateLimitError):
        return _error("rate_limited", model)
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return _error("timeout", model)
    if isinstance(exc, openai.APIConnectionError | _TransportError):
        return _error("unreachable", model)
    if isinstance(exc, StreamFault):
        return _error("bad_stream", model)
    if isinstance(exc, StreamErrorEvent):
        code = str(exc.error.get("code") or exc.error.get("type") or "")
        return _from_error_object(code, str(exc.error.get("message") or ""), None, model)
    if isinstance(exc, openai.APIError):
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        return _from_error_object(_error_code(exc.body), exc.message, status, model)
    return _error("unknown", model)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms` or `Retry-After`), if it said."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


class QwenClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots = CallSlots(settings.max_concurrent_replies, settings.qwen_stall_grace)
        self.client = AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.qwen_base_url,
            max_retries=settings.qwen_max_retries,
            timeout=openai.Timeout(
                max(settings.qwen_first_token_timeout, settings.qwen_idle_timeout),
                connect=settings.qwen_connect_timeout,
            ),
        )
        # Same connection pool; streaming retries are ours (see `_retry_pause`).
        self._streaming = self.client.with_options(max_retries=0)

    async def close(self) -> None:
        await self.client.close()

    async def stream(
        self, messages: Sequence[dict[str, Any]], model: str, *, max_tokens: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> AsyncIterator[str | Usage | Reasoning]:
        """Yield reasoning and text deltas, then one `Usage` if the server reports it. `options` go
        into the request body as they are (thinking and search flags, see bot/thinking.py)."""
        async with self.slots.call() as slot, AsyncExitStack() as stack:
            sent = time.perf_counter()
            body, decoder, payloads = await self._connect(stack, messages, model, max_tokens, options or {})
            slot.started()
            metrics.FIRST_TOKEN.labels(model).observe(time.perf_counter() - sent)
            # The hot loop: one orjson parse per chunk, no SDK models, no task per read.
            idle = self.settings.qwen_idle_timeout
            got_text = False
            try:
                while payloads is not None:
                    for payload in payloads:
                        if payload == DONE:
                            await _drain(body)
                            return
                        for event in chunk_events(payload):
                            if not got_text and event.__class__ is str:
                                got_text = True
                            yield event
                    # Never across a yield: the timeout must not fire while the caller works.
                    async with asyncio.timeout(idle):
                        payloads = await _read(body, decoder)
            except (TimeoutError, _TransportError, StreamFault, StreamErrorEvent) as exc:
                failure = classify(exc, model)
                log.warning("stream from %s broke%s: %s", model, " after some text" if got_text else "",
                            _describe(exc))
                # Moderation can stop an answer half-way: then the half is refused too, not kept.
                if got_text and failure.kind != "content_refused":
                    metrics.MODEL_ERRORS.labels(model, "interrupted").inc()
                    raise StreamInterrupted() from None
                raise _counted(failure, model) from None

    async def _connect(
        self, stack: AsyncExitStack, messages: Sequence[dict[str, Any]], model: str,
        max_tokens: int | None, options: dict[str, Any],
    ) -> tuple[AsyncIterator[bytes], SSEDecoder, list[bytes] | None]:
        """Open the stream and read its first event, retrying within the first-token budget."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.first_token_budget
        rate_wait_left = settings.qwen_rate_limit_wait
        retries = 0
        while True:
            async with AsyncExitStack() as attempt:
                try:
                    async with asyncio.timeout_at(
                        min(deadline, loop.time() + settings.qwen_first_token_timeout)
                    ):
                        opened = await self._open(attempt, messages, model, max_tokens, options)
                except (TimeoutError, openai.OpenAIError, _TransportError) as exc:
                    failure = classify(exc, model)
                    pause = self._retry_pause(exc, failure, retries, deadline - loop.time(), rate_wait_left)
                    if pause is None:
                        log.warning("model call to %s failed: %s (%s)", model, failure.kind, _describe(exc))
                        raise _counted(failure, model) from None
                    log.warning("model call to %s failed: %s (%s); retrying in %.1fs", model, failure.kind,
                                _describe(exc), pause)
                    retries += 1
                    if failure.kind == "rate_limited":
                        rate_wait_left -= pause
                else:
                    await stack.enter_async_context(attempt.pop_all())  # the caller closes the response
                    return opened
            await asyncio.sleep(pause)

    async def _open(
        self, stack: AsyncExitStack, messages: Sequence[dict[str, Any]], model: str,
        max_tokens: int | None, options: dict[str, Any],
    ) -> tuple[AsyncIterator[bytes], SSEDecoder, list[bytes] | None]:
        """Send the request and read until the first event; `None` payloads: the body ended."""
        response = await stack.enter_async_context(
            self._streaming.chat.completions.with_streaming_response.create(
                model=model,
                # The SDK walks `messages` through its TypedDict transformer, which renames nothing in
                # plain chat messages yet cost 70 % of a short turn's CPU; `extra_body` is sent as is
                # and replaces this empty list in the request body.
                messages=[],
                extra_body={**options, "messages": list(messages)},
                stream=True,
                stream_options={"include_usage": True},
                max_completion_tokens=max_tokens or self.settings.max_output_tokens,
            )
        )
        body = response.http_response.aiter_bytes()
        stack.push_async_callback(body.aclose)
        decoder = SSEDecoder()
        # Keep-alive comments are not a first token: wait for a real event.
        payloads: list[bytes] | None = []
        while payloads == []:
            payloads = await _read(body, decoder)
        return body, decoder, payloads

    def _retry_pause(self, exc: BaseException, failure: LLMError, retries: int, time_left: float,
                     rate_wait_left: float) -> float | None:
        """Seconds to wait before trying again, or None to give up with `failure`."""
        if retries >= self.settings.qwen_max_retries:
            return None
        backoff = min(8.0, 0.5 * 2**retries)
        if failure.kind == "rate_limited":
            # Waiting longer than the server asks is pointless, and past our cap so is any wait.
            pause = retry_after(exc)
            pause = backoff if pause is None else pause
            return pause if pause <= rate_wait_left and pause < time_left else None
        if failure.kind not in RETRYABLE:
            return None
        pause = retry_after(exc)
        pause = backoff if pause is None else min(pause, 8.0)
        return pause if pause < time_left else None

    async def complete(
        self, messages: Sequence[dict[str, Any]], model: str, max_tokens: int
    ) -> tuple[str, Usage]:
        """One whole answer, for background work such as summaries; its reasoning is dropped."""
        if thinks(model) is Thinks.ALWAYS:
            # QwQ and `*-thinking` models take streaming calls only, and cannot be told not to think.
            return await self._collect(messages, model, max_tokens)
        async with self.slots.call():
            try:
                response = await self.client.chat.completions.create(
                    model=model,
                    messages=list(messages),  # type: ignore[arg-type]
                    max_completion_tokens=max_tokens,
                    # Models that may think reject non-streaming calls with thinking on.
                    extra_body=not_thinking(model),
                )
            except openai.OpenAIError as exc:
                raise _counted(classify(exc, model), model) from exc
        text = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        return text, Usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)

    async def _collect(
        self, messages: Sequence[dict[str, Any]], model: str, max_tokens: int
    ) -> tuple[str, Usage]:
        events = [event async for event in self.stream(messages, model, max_tokens=max_tokens)]
        usage = next((event for event in events if isinstance(event, Usage)), Usage(0, 0))
        return "".join(event for event in events if isinstance(event, str)), usage


def _counted(failure: LLMError, model: str) -> LLMError:
    """`failure`, counted: the call is given up (retries before it are not errors yet)."""
    metrics.MODEL_ERRORS.labels(model, failure.kind).inc()
    return failure


async def _read(body: AsyncIterator[bytes], decoder: SSEDecoder) -> list[bytes] | None:
    """The events in the next piece of the body; None once it has ended."""
    try:
        raw = await anext(body, None)
    except Exception as exc:
        # Only the transport runs here, and its errors (httpx2's) come unwrapped by the SDK.
        raise _TransportError(f"{type(exc).__name__}: {exc}") from exc
    if raw is None:
        rest = decoder.flush()
        return rest or None
    return decoder.feed(raw)


async def _drain(body: AsyncIterator[bytes]) -> None:
    """Read what follows `[DONE]`, so that the connection goes back to the pool, not closed."""
    try:
        async with asyncio.timeout(0.1):
            async for _ in body:
                pass
    except Exception:  # a server that keeps the body open, or drops it now, costs only the connection
        pass


def _describe(exc: BaseException) -> str:
    """One line about a failure, for the log: never a traceback, never a request body."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} {_error_code(exc.body) or exc.message}"[:200]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]
