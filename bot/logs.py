"""Logs an operator can read or ship: human-readable lines by default, one JSON object per line
with LOG_FORMAT=json, and no secret in either.

Every record passes two filters on the way out: `Context` adds the platform and conversation
the current task is handling (set by `traced` around `ConversationCore.handle`, and inherited
by the tasks it starts), and `Redact` scrubs every secret setting's value from the message and
its traceback, whatever logged it: a library echoing a URL, a token in an exception's text.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from bot.types import ConversationKey

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
#: What a record may carry besides its message, from `extra=` or the task's context, in this order.
FIELDS = ("platform", "conversation", "outcome", "latency_ms")
#: Shorter values are not scrubbed: replacing every "ab" in every line would make logs unreadable.
MIN_SECRET_LENGTH = 4
MASK = "[redacted]"
NOISY = ("httpx2", "httpx", "openai._base_client", "discord.gateway", "aiohttp.access")

_conversation: ContextVar[ConversationKey | None] = ContextVar("qwenbot_conversation", default=None)
_secrets: set[str] = set()

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])


# -- secrets ------------------------------------------------------------------------------------

def keep_secret(*values: str | None) -> None:
    """Never let these values reach a log line (the longest are scrubbed first)."""
    _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def secrets_of(settings: object) -> list[str]:
    """The secret values in a settings object: every `SecretStr` field and any password in a URL."""
    found: list[str] = []
    for name in getattr(type(settings), "model_fields", {}):
        value: Any = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            secret = str(value.get_secret_value())
            found += [secret, secret.strip()]
        elif isinstance(value, str) and "://" in value:
            found += url_passwords(value)
    return found


def url_passwords(url: str) -> list[str]:
    """A URL's password, as written and decoded: in its user part or, as libpq also accepts,
    as a `password=` query parameter."""
    try:
        parts = urlsplit(url)
        passwords = [parts.password or ""]
    except ValueError:  # a malformed URL is reported by its own validator
        return []
    passwords += [pair.split("=", 1)[1] for pair in parts.query.split("&")
                  if pair.lower().startswith("password=")]
    return [p for raw in passwords if raw for p in (raw, unquote(raw))]


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


# -- filters and formatters -----------------------------------------------------------------

class Redact(logging.Filter):
    """Scrubs known secrets from a record's message, traceback and stack, before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg, record.args = scrub(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class Context(logging.Filter):
    """Adds the platform and conversation the current task is handling, unless the record has them."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = _conversation.get()
        if key is not None:
            if getattr(record, "platform", None) is None:
                record.platform = key.platform
            if getattr(record, "conversation", None) is None:
                record.conversation = str(key)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the known fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        try:
            import orjson

            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # text orjson refuses (a lone surrogate): escaped ASCII is still JSON
            return json.dumps(entry, default=str)


def handler(fmt: str = "text", stream: Any = None) -> logging.Handler:
    """A stream handler writing `fmt` ("text" or "json"), with context and redaction."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    out.addFilter(Context())
    out.addFilter(Redact())
    return out


def configure(level: str, command: str, fmt: str = "text", *, noisy: Iterable[str] = NOISY) -> None:
    """Logging for the `qwenbot` command: `level` and `fmt` from the settings, to stderr."""
    # The terminal chat owns the screen: at the default level only warnings reach stderr there.
    chosen = logging.WARNING if command == "chat" and level == "INFO" else getattr(logging, level)
    logging.basicConfig(level=chosen, handlers=[handler(fmt)])
    for name in noisy:
        logging.getLogger(name).setLevel(max(chosen, logging.WARNING))


# -- the conversation a task is handling --------------------------------------------------------

def traced(handle: H) -> H:
    """Wraps `ConversationCore.handle`: its records carry the conversation, and it ends with one
    line saying the outcome and how long it took (`outcome`, `latency_ms` in JSON)."""
    log = logging.getLogger(handle.__module__)

    @functools.wraps(handle)
    async def wrapper(self: object, incoming: Any, *args: Any, **kwargs: Any) -> Any:
        token = _conversation.set(incoming.key)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handle(self, incoming, *args, **kwargs)
            outcome = str(result)
            return result
        except BaseException as exc:
            if not isinstance(exc, Exception):  # cancelled: shutdown, or the adapter gave up
                outcome = "cancelled"
            raise
        finally:
            latency = round((time.perf_counter() - started) * 1000, 1)
            log.info("%s: %s in %.0f ms", incoming.key, outcome, latency,
                     extra={"outcome": outcome, "latency_ms": latency})
            _conversation.reset(token)

    return cast(H, wrapper)
