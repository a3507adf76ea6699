"""Server-sent events of an OpenAI-compatible chat stream, parsed without the SDK's models.

The SDK builds a pydantic object for every chunk; at a few hundred chunks an answer that is most
of a turn's CPU. Here a chunk is one `orjson.loads` and a few dict look-ups. Anything that is not
a well-formed chat completion chunk raises `StreamFault`, so the caller can keep the text it has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger(__name__)

DONE = b"[DONE]"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Reasoning:
    """A piece of the model's reasoning (`reasoning_content`): shown as a status, never as the answer."""

    text: str


class StreamFault(Exception):
    """The stream sent something that is not a chat completion chunk; the message says what."""


class StreamErrorEvent(Exception):
    """The server reported an error inside the stream; `error` is its error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message") or error.get("code") or "error in stream"))
        self.error = error


class SSEDecoder:
    """Splits a byte stream into the `data` payloads of its events (lines joined by newlines)."""

    __slots__ = ("_buffer", "_data")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = (self._buffer + chunk).split(b"\n") if self._buffer else chunk.split(b"\n")
        self._buffer = lines.pop()
        payloads: list[bytes] = []
        data = self._data
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    payloads.append(data[0] if len(data) == 1 else b"\n".join(data))
                    data.clear()
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            # Comments (":"), "event:", "id:" and "retry:" carry nothing a chat answer needs.
        return payloads

    def flush(self) -> list[bytes]:
        """Payloads left when the body ended without the final blank line."""
        payloads = self.feed(b"\n\n") if self._buffer or self._data else []
        self._buffer = b""
        return payloads


def chunk_events(payload: bytes) -> list[str | Usage | Reasoning]:
    """The text and reasoning deltas and usage in one chunk; raises `StreamFault` or `StreamErrorEvent`."""
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise StreamFault(f"invalid JSON ({len(payload)} bytes)") from None
    if type(chunk) is not dict:
        raise StreamFault(f"a chunk that is a JSON {type(chunk).__name__}, not an object")
    error = chunk.get("error")
    if error:
        raise StreamErrorEvent(error if isinstance(error, dict) else {"message": str(error)})
    events: list[str | Usage | Reasoning] = []
    choices = chunk.get("choices")
    usage = chunk.get("usage")
    if choices is None:
        if not usage:
            raise StreamFault("a chunk without choices")
    elif type(choices) is not list:
        raise StreamFault("choices that are not a list")
    else:
        for choice in choices:
            if type(choice) is not dict:
                raise StreamFault("a choice that is not an object")
            delta = choice.get("delta")
            if delta is None:
                continue
            if type(delta) is not dict:
                raise StreamFault("a delta that is not an object")
            # Reasoning comes before the answer; it is never stored or sent back (bot/reasoning.py).
            thought = delta.get("reasoning_content")
            if thought and type(thought) is str:
                events.append(Reasoning(thought))
            content = delta.get("content")
            if content:
                if type(content) is not str:
                    raise StreamFault(f"content that is a {type(content).__name__}, not text")
                events.append(content)
    if usage:
        parsed = _usage(usage)
        if parsed is not None:
            events.append(parsed)
    return events


def _usage(usage: object) -> Usage | None:
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
        if type(prompt) is int and type(completion) is int and prompt >= 0 and completion >= 0:
            return Usage(prompt, completion)
    # The answer itself is fine; the core estimates usage when the server does not report it.
    log.warning("ignored malformed usage in the model's stream")
    return None
