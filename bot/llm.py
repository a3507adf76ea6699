"""A thin streaming client for Qwen's OpenAI-compatible API.

It yields text deltas and a final `Usage`, retries a stream that produced nothing within the
first-token timeout, and turns every failure into an `LLMError` carrying one short sentence a
chat user can read. A stream that breaks after text arrived raises `StreamInterrupted` instead,
so the caller can keep what it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

from bot.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


class LLMError(Exception):
    """The model call failed; `user_message` is safe to show in chat."""

    def __init__(self, kind: str, user_message: str) -> None:
        super().__init__(f"{kind}: {user_message}")
        self.kind = kind
        self.user_message = user_message


class StreamInterrupted(Exception):
    """The stream broke after some text had arrived."""


MESSAGES = {
    "auth": "Qwen rejected the bot's API key (401), so I can't answer; the bot's operator needs to fix it.",
    "rate_limited": "Qwen is rate-limiting me right now; please try again in a minute.",
    "content_refused": "Qwen's content filter refused this message, so I can't answer it.",
    "unknown_model": "The model {model!r} isn't available on this Qwen endpoint; pick another one.",
    "arrearage": "The Qwen account behind this bot is out of credit; the bot's operator needs to top it up.",
    "timeout": "Qwen took too long to answer; please try again.",
    "unreachable": "I can't reach Qwen right now; please try again shortly.",
    "server_error": "Qwen had an internal error; please try again.",
    "bad_request": "Qwen couldn't process this request ({detail}).",
    "unknown": "Something went wrong while asking Qwen; please try again.",
}


def _error_code(exc: openai.APIError) -> str:
    # A status error's body is {"error": {...}}; an error sent inside the stream is the inner dict.
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or "")
    return ""


def classify(exc: BaseException, model: str) -> LLMError:
    """Map an SDK exception to an `LLMError` with a short sentence for the chat."""

    def error(kind: str, **fields: str) -> LLMError:
        return LLMError(kind, MESSAGES[kind].format(model=model, **fields))

    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return error("auth")
    if isinstance(exc, openai.RateLimitError):
        return error("rate_limited")
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return error("timeout")
    if isinstance(exc, openai.APIConnectionError):
        return error("unreachable")
    if isinstance(exc, openai.APIError):
        code = _error_code(exc)
        text = f"{code} {exc.message}".lower()
        if "data_inspection_failed" in text or "inappropriate" in text:
            return error("content_refused")
        if "arrearage" in text:
            return error("arrearage")
        if isinstance(exc, openai.NotFoundError) or "model_not_found" in text or (
            "model" in text and ("not exist" in text or "not found" in text or "unknown" in text)
        ):
            return error("unknown_model")
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if status is not None and status >= 500:
            return error("server_error")
        return error("bad_request", detail=code or (f"HTTP {status}" if status else "stream error"))
    return error("unknown")


class QwenClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.qwen_base_url,
            max_retries=settings.qwen_max_retries,
            timeout=httpx2.Timeout(
                max(settings.qwen_first_token_timeout, settings.qwen_idle_timeout),
                connect=settings.qwen_connect_timeout,
            ),
        )

    async def close(self) -> None:
        await self.client.close()

    async def stream(
        self, messages: Sequence[dict[str, Any]], model: str, *, max_tokens: int | None = None
    ) -> AsyncIterator[str | Usage]:
        """Yield text deltas, then one `Usage` if the server reports it."""
        settings = self.settings
        attempts = settings.qwen_max_retries + 1
        for attempt in range(attempts):
            try:
                stream, first = await asyncio.wait_for(
                    self._open(messages, model, max_tokens), settings.qwen_first_token_timeout
                )
                break
            except TimeoutError:
                log.warning("no first token from %s within %.0fs (try %d)", model,
                            settings.qwen_first_token_timeout, attempt + 1)
                if attempt + 1 == attempts:
                    raise classify(TimeoutError(), model) from None
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt))
            except openai.OpenAIError as exc:
                raise classify(exc, model) from exc
        got_text = False
        try:
            chunk = first
            while chunk is not None:
                for event in _events(chunk):
                    got_text = got_text or isinstance(event, str)
                    yield event
                # asyncio.timeout, not wait_for: no extra task per chunk on the hot path.
                async with asyncio.timeout(settings.qwen_idle_timeout):
                    chunk = await anext(stream, None)
        except (TimeoutError, openai.OpenAIError, httpx2.HTTPError) as exc:
            log.warning("stream from %s broke: %r", model, exc)
            failure = classify(exc, model)
            # Moderation can stop an answer half-way: then the half is refused too, not kept.
            if got_text and failure.kind != "content_refused":
                raise StreamInterrupted() from exc
            raise failure from exc
        finally:
            await stream.close()

    async def _open(
        self, messages: Sequence[dict[str, Any]], model: str, max_tokens: int | None
    ) -> tuple[Any, Any]:
        stream = await self.client.chat.completions.create(
            model=model,
            messages=list(messages),  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            max_completion_tokens=max_tokens or self.settings.max_output_tokens,
        )
        try:
            first = await anext(stream, None)
        except BaseException:
            await stream.close()
            raise
        return stream, first

    async def complete(
        self, messages: Sequence[dict[str, Any]], model: str, max_tokens: int
    ) -> tuple[str, Usage]:
        """One non-streaming answer, for background work such as summaries."""
        try:
            response = await self.client.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                max_completion_tokens=max_tokens,
                # Qwen3 hybrid models reject non-streaming calls with thinking on.
                extra_body={"enable_thinking": False} if model.startswith("qwen3") else None,
            )
        except openai.OpenAIError as exc:
            raise classify(exc, model) from exc
        text = response.choices[0].message.content or "" if response.choices else ""
        usage = response.usage
        return text, Usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)


def _events(chunk: Any) -> list[str | Usage]:
    events: list[str | Usage] = []
    for choice in chunk.choices or []:
        # Qwen3's reasoning_content is never shown and never sent back; only content counts.
        content = getattr(choice.delta, "content", None)
        if content:
            events.append(content)
    if getattr(chunk, "usage", None):
        events.append(Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0))
    return events
