"""HTTP mode's front door: a request is checked before bolt, or anything else, parses it.

Everything that reaches `/slack/events` from the internet is hostile until its signature says
otherwise. The checks run cheapest first and read nothing they do not need: the declared size, the
content type, the timestamp, then the body (at most `MAX_BODY` bytes) and its signature. A request
that fails any of them gets a 4xx and at most one short WARNING line a minute per cause: never a
traceback, never a byte of the body (a signed body holds users' messages; an unsigned one is
whatever an attacker chose to put in our log). Only a verified request is parsed and handed to bolt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

# Slack documents no ceiling; its largest events (a 40,000-character message with its rich-text
# blocks) stay well under this, which is also aiohttp's own default for request bodies.
MAX_BODY = 1024 * 1024
#: Seconds a request may take to send its body: a slow sender must not hold a connection open.
BODY_SECONDS = 10.0
MAX_SKEW = 5 * 60  # seconds; Slack's own rule for a request timestamp
LOG_INTERVAL = 60.0
CONTENT_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})
SIGNATURE_PREFIX = "v0="
# Longer than any Unix time in seconds for millennia; also keeps int() away from huge strings.
MAX_TIMESTAMP_DIGITS = 12


@dataclass(frozen=True)
class Rejection:
    """Why a request was refused: the HTTP status it gets and the one line the log gets."""

    cause: str
    status: int
    reason: str


OVERSIZE = Rejection("oversize", 413, f"a body over {MAX_BODY} bytes")
CONTENT_TYPE = Rejection("content-type", 415, "a content type Slack does not send")
UNSIGNED = Rejection("unsigned", 401, "no signature or timestamp")
BAD_TIMESTAMP = Rejection("timestamp", 400, "a timestamp that is not a number")
STALE = Rejection(
    "stale", 401, "a timestamp more than 5 minutes off (replayed, or this host's clock is wrong)")
BAD_SIGNATURE = Rejection(
    "signature", 401, "a wrong signature; if this repeats, check SLACK_SIGNING_SECRET")
SLOW = Rejection("slow", 408, f"a body not sent within {BODY_SECONDS:.0f} s")
BAD_BODY = Rejection("body", 400, "a correctly signed body that is not a readable Slack payload")


class LogThrottle:
    """At most one WARNING line per cause per interval; the next line says how many were left out.

    Causes come from a fixed set (the rejections above, exception type names), so the tables stay small.
    """

    def __init__(
        self, logger: logging.Logger, interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, cause: str, message: str, *args: object) -> bool:
        """Log `message` unless `cause` was logged within the interval; True when it was logged."""
        now = self.clock()
        last = self._last.get(cause)
        if last is not None and now - last < self.interval:
            self._skipped[cause] = self._skipped.get(cause, 0) + 1
            return False
        self._last[cause] = now
        skipped = self._skipped.pop(cause, 0)
        if skipped:
            message = f"{message} (and {skipped} more like it since the last such line)"
        self.logger.warning(message, *args)
        return True


class QuietServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, tamed: a malformed HTTP request is one throttled line, not a traceback.

    aiohttp logs every request it cannot parse (a bad header, a garbled request line) with
    `logger.exception`, and the exception's text may quote the offending bytes; only its type is kept.
    """

    def __init__(self, throttle: LogThrottle) -> None:
        super().__init__(throttle.logger, {})
        self.throttle = throttle

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        self._one_line(exc_info)

    def error(self, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        self._one_line(exc_info)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        # aiohttp's debug lines (client disconnects, non-HTTP traffic) are noise here; their
        # tracebacks would also go to any operator running at DEBUG.
        return

    def process(
        self, msg: object, kwargs: MutableMapping[str, Any],
    ) -> tuple[object, MutableMapping[str, Any]]:
        kwargs.pop("exc_info", None)
        return msg, kwargs

    def _one_line(self, exc_info: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        kind = type(error).__name__ if error is not None else "error"
        what = "refused a malformed HTTP request" if isinstance(error, HttpProcessingError) else (
            "a request failed in the HTTP server")
        self.throttle.warning(f"server:{kind}", "Slack HTTP: %s (%s)", what, kind)


class EventsEndpoint:
    """The aiohttp handler for HTTP mode's events URL (events, slash commands, interactivity).

    Constructing it also gives `app` an error handler: an exception inside bolt on a verified request
    becomes one throttled WARNING line and a 503 (Slack retries it; event ids are claimed durably, so
    a retry never answers twice) instead of bolt's traceback and a 500.
    """

    def __init__(
        self, app: AsyncApp, signing_secret: str, *, max_body: int = MAX_BODY,
        throttle: LogThrottle | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.throttle = throttle or LogThrottle(log)
        self.server_log = QuietServerLog(self.throttle)
        self._secret = signing_secret.encode()
        self._clock = clock
        app.error(self._on_bolt_error)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > self.max_body:
            return self._reject(OVERSIZE, request)
        if request.content_type not in CONTENT_TYPES:
            return self._reject(CONTENT_TYPE, request)
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not stamp or not signature:
            return self._reject(UNSIGNED, request)
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
            return self._reject(BAD_TIMESTAMP, request)
        if abs(self._clock() - int(stamp)) > MAX_SKEW:
            return self._reject(STALE, request)
        try:
            raw = await asyncio.wait_for(self._read(request), BODY_SECONDS)
        except TimeoutError:
            return self._reject(SLOW, request)
        if raw is None:
            return self._reject(OVERSIZE, request)
        if not self._signed(stamp, raw, signature):
            return self._reject(BAD_SIGNATURE, request)
        bolt_request = self._bolt_request(request, raw)
        if bolt_request is None:
            return self._reject(BAD_BODY, request)
        try:
            response = await self.app.async_dispatch(bolt_request)
        except Exception as error:
            # Bolt catches most of its own failures (see _on_bolt_error), but not those of its error
            # path itself, such as building the handler's arguments from an odd payload.
            response = self._failed(error, bolt_request.body)
        return await to_aiohttp_response(response)

    async def _read(self, request: web.Request) -> bytes | None:
        """The body, or None once it passes `max_body` (a missing or false Content-Length included)."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _signed(self, stamp: str, raw: bytes, signature: str) -> bool:
        # Slack's scheme (slack_sdk's SignatureVerifier), over the raw bytes: the SDK's verifier
        # decodes the body first and raises on bytes that are not UTF-8.
        digest = hmac.new(self._secret, b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        # Bytes, not str: compare_digest refuses non-ASCII strings, and a header may hold anything.
        given = signature.encode("utf-8", "backslashreplace")
        return hmac.compare_digest((SIGNATURE_PREFIX + digest).encode(), given)

    @staticmethod
    def _bolt_request(request: web.Request, raw: bytes) -> AsyncBoltRequest | None:
        """Bolt's request, or None for a body bolt would choke on (not UTF-8, not JSON, not an object)."""
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"), query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except Exception:
            # Signed, so from Slack (or from someone holding the secret): still not worth a traceback.
            return None
        body = bolt_request.body
        # Bolt reads `event` as an object in places that run outside its own error handling.
        readable = isinstance(body, dict) and isinstance(body.get("event", {}), dict)
        return bolt_request if readable else None

    def _reject(self, rejection: Rejection, request: web.Request) -> web.Response:
        self.throttle.warning(
            rejection.cause, "Slack HTTP: refused %d from %s: %s", rejection.status,
            request.remote or "?", rejection.reason,
        )
        # Closing matters for OVERSIZE: the unread body must not be parsed as the next request.
        return web.json_response({"error": "invalid request"}, status=rejection.status,
                                 headers={"Connection": "close"})

    async def _on_bolt_error(self, error: Exception, request: AsyncBoltRequest) -> BoltResponse:
        return self._failed(error, request.body)

    def _failed(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        event = body.get("event")
        what = (event.get("type") if isinstance(event, dict) else None) or body.get("type") or "request"
        self.throttle.warning(f"bolt:{type(error).__name__}", "Slack HTTP: handling a %s failed (%s)",
                              str(what)[:40], type(error).__name__)
        # The traceback only for whoever asks for DEBUG: a signed request's failure is our bug to fix.
        log.debug("Slack HTTP: handling a request failed", exc_info=error)
        return BoltResponse(status=503, body="")
