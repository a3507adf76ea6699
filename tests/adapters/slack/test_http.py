"""HTTP mode's front door: hostile requests get a 4xx and at most a line of log, never a 500 or a traceback.

Every request goes over real HTTP on 127.0.0.1 to the running adapter (bolt, aiohttp and all).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.slack import http as endpoint
from adapters.slack.http import MAX_BODY, LogThrottle
from tests.adapters.slack.conftest import DM
from tests.fakes.slack import FakeSlack

SECRET_WORDS = "my-private-words-xyzzy"
MALFORMED = b'{"type": "event_callback", "event": {"text": "' + SECRET_WORDS.encode() + b'"'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, slack: FakeSlack, body: Any, headers: dict[str, str],
) -> tuple[int, str]:
    async with http.post(slack.bot_url + "/slack/events", data=body, headers=headers) as resp:
        return resp.status, await resp.text()


def signed(slack: FakeSlack, body: bytes, stamp: str | None = None) -> dict[str, str]:
    """Signed as Slack signs (slack_sdk's verifier does the same, but only for UTF-8 bodies)."""
    stamp = stamp or str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(slack.signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {**JSON, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def event_body(slack: FakeSlack, text: str) -> bytes:
    return json.dumps(slack.envelope(slack.message(text, channel=DM))).encode()


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return all(r.exc_info is None and r.levelno < logging.ERROR for r in caplog.records) and (
        "Traceback" not in caplog.text)


async def raw_http(slack: FakeSlack, request: bytes) -> bytes:
    """Bytes no HTTP client would send, written straight to the bot's socket."""
    host, port = slack.bot_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    answer = await reader.read(1024)
    writer.close()
    await writer.wait_closed()
    return answer


async def test_an_unsigned_request_with_a_malformed_body_gets_401(slack, start_bot, http, caplog) -> None:
    await start_bot()
    caplog.set_level(logging.DEBUG)
    status, _ = await post(http, slack, MALFORMED, JSON)
    assert status == 401
    assert no_traceback(caplog) and SECRET_WORDS not in caplog.text


async def test_a_timestamp_that_is_not_a_number_gets_400(slack, start_bot, http, caplog) -> None:
    await start_bot()
    caplog.set_level(logging.DEBUG)
    headers = {**JSON, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64}
    status, _ = await post(http, slack, MALFORMED, headers)
    assert status == 400
    assert no_traceback(caplog)


async def test_a_stale_timestamp_gets_401_even_when_correctly_signed(slack, qwen, start_bot, http) -> None:
    run = await start_bot()
    body = event_body(slack, "hi")
    status, _ = await post(http, slack, body, signed(slack, body, str(int(time.time()) - 6 * 60)))
    await run.idle()
    assert status == 401
    assert qwen.requests == []


async def test_a_wrong_signature_gets_401_and_names_the_setting(slack, start_bot, http, caplog) -> None:
    await start_bot()
    caplog.set_level(logging.INFO)
    headers = {**signed(slack, MALFORMED), "X-Slack-Signature": "v0=" + "0" * 64}
    status, _ = await post(http, slack, MALFORMED, headers)
    assert status == 401
    assert "check SLACK_SIGNING_SECRET" in caplog.text and SECRET_WORDS not in caplog.text


async def test_a_signature_with_non_ascii_bytes_gets_401(slack, start_bot) -> None:
    await start_bot()
    stamp = str(int(time.time())).encode()
    answer = await raw_http(slack, b"POST /slack/events HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Type: application/json\r\nX-Slack-Request-Timestamp: " + stamp + b"\r\n"
                            b"X-Slack-Signature: v0=\xc3\xa9\xff\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.split(b"\r\n")[0].endswith(b" 401 Unauthorized")


async def test_an_oversize_body_gets_413(slack, start_bot, http) -> None:
    await start_bot()
    body = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    status, _ = await post(http, slack, body, signed(slack, body))
    assert status == 413


async def test_an_oversize_body_without_a_length_gets_413(slack, start_bot, http) -> None:
    await start_bot()
    body = b'{"pad": "' + b"x" * MAX_BODY + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    status, _ = await post(http, slack, chunks(), signed(slack, body))
    assert status == 413


async def test_a_content_type_slack_does_not_send_gets_415(slack, start_bot, http) -> None:
    await start_bot()
    body = event_body(slack, "hi")
    status, _ = await post(http, slack, body, {**signed(slack, body), "Content-Type": "text/xml"})
    assert status == 415


async def test_a_correctly_signed_but_malformed_body_gets_400(slack, start_bot, http, caplog) -> None:
    await start_bot()
    caplog.set_level(logging.DEBUG)
    for body in (MALFORMED, b"[1, 2]", b'{"type": "event_callback", "event": null}', b"\xff\xfe"):
        status, _ = await post(http, slack, body, signed(slack, body))
        assert status == 400, body
    assert no_traceback(caplog) and SECRET_WORDS not in caplog.text


async def test_a_failure_inside_bolt_on_a_signed_request_is_a_503_and_one_line(
    slack, start_bot, http, caplog,
) -> None:
    await start_bot()
    caplog.set_level(logging.INFO)
    body = json.dumps({"type": "block_actions", "actions": "not a list"}).encode()
    statuses = [(await post(http, slack, body, signed(slack, body)))[0] for _ in range(3)]
    assert statuses == [503, 503, 503]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # Which error bolt's matchers stumble on depends on the listeners registered; one line says it.
    assert len(lines) == 1 and lines[0].startswith("Slack HTTP: handling a block_actions failed (")
    assert no_traceback(caplog)


async def test_a_malformed_http_request_is_refused_without_a_traceback(slack, start_bot, caplog) -> None:
    await start_bot()
    caplog.set_level(logging.DEBUG)
    garbled = b"POST /slack/events HTTP/1.1\r\nBad Header\x01: \x00" + SECRET_WORDS.encode() + b"\r\n\r\n"
    answer = await raw_http(slack, garbled)
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    assert no_traceback(caplog) and SECRET_WORDS not in caplog.text
    assert "refused a malformed HTTP request" in caplog.text


async def test_200_hostile_requests_write_a_handful_of_lines(slack, qwen, start_bot, http, caplog) -> None:
    run = await start_bot()
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    stale = str(int(time.time()) - 3600)
    hostile: list[tuple[bytes, dict[str, str]]] = [
        (MALFORMED, JSON),
        (MALFORMED, {**JSON, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=abc"}),
        (MALFORMED, signed(slack, MALFORMED, stale)),
        (MALFORMED, {**signed(slack, MALFORMED), "X-Slack-Signature": "v0=" + "f" * 64}),
        (MALFORMED, {**signed(slack, MALFORMED), "Content-Type": "text/plain"}),
        (MALFORMED + b" " * MAX_BODY, signed(slack, MALFORMED + b" " * MAX_BODY)),
        (MALFORMED, signed(slack, MALFORMED)),
    ]
    statuses = set()
    for i in range(200):
        body, headers = hostile[i % len(hostile)]
        statuses.add((await post(http, slack, body, headers))[0])
    await run.idle()
    assert statuses == {400, 401, 413, 415}
    # aiosqlite's worker thread may still be logging the start-up query's completion.
    assert len([r for r in caplog.records if r.name != "aiosqlite"]) <= len(hostile)
    assert no_traceback(caplog) and SECRET_WORDS not in caplog.text
    assert qwen.requests == []


async def test_a_correctly_signed_event_is_still_answered(slack, qwen, start_bot, http) -> None:
    run = await start_bot()
    body = event_body(slack, "hi")
    status, _ = await post(http, slack, body, signed(slack, body))
    await run.idle()
    assert status == 200
    assert slack.texts(DM) == ["Hello from fake Qwen."]


async def test_a_signed_slash_command_is_still_answered(slack, start_bot) -> None:
    await start_bot()
    answer = await slack.command_answer("help")
    assert "/qwen" in answer["text"]


async def test_the_url_verification_challenge_is_still_answered(slack, start_bot, http) -> None:
    await start_bot()
    body = json.dumps({"token": "t", "challenge": "c0ffee", "type": "url_verification"}).encode()
    status, text = await post(http, slack, body, signed(slack, body))
    assert (status, json.loads(text)) == (200, {"challenge": "c0ffee"})


# -- the throttle itself ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle_with(caplog: pytest.LogCaptureFixture) -> tuple[LogThrottle, Clock]:
    caplog.set_level(logging.WARNING, logger="test.throttle")
    clock = Clock()
    return LogThrottle(logging.getLogger("test.throttle"), interval=60, clock=clock), clock


def test_a_cause_is_logged_once_per_interval(caplog) -> None:
    throttle, clock = throttle_with(caplog)
    logged = [throttle.warning("stale", "stale request") for _ in range(5)]
    clock.now += 59
    logged.append(throttle.warning("stale", "stale request"))
    assert logged == [True, False, False, False, False, False]
    assert [r.getMessage() for r in caplog.records] == ["stale request"]


def test_each_cause_has_its_own_allowance(caplog) -> None:
    throttle, _ = throttle_with(caplog)
    throttle.warning("stale", "stale request")
    throttle.warning("signature", "bad signature")
    assert [r.getMessage() for r in caplog.records] == ["stale request", "bad signature"]


def test_the_next_line_counts_what_was_left_out(caplog) -> None:
    throttle, clock = throttle_with(caplog)
    for _ in range(4):
        throttle.warning("stale", "stale request")
    clock.now += 60
    throttle.warning("stale", "stale request")
    assert caplog.records[-1].getMessage() == "stale request (and 3 more like it since the last such line)"


async def test_a_body_sent_too_slowly_gets_408(slack, start_bot, monkeypatch, caplog) -> None:
    monkeypatch.setattr(endpoint, "BODY_SECONDS", 0.2)
    await start_bot()
    body = event_body(slack, "hello")
    head = "".join(f"{name}: {value}\r\n" for name, value in signed(slack, body).items())
    start = f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    request = (start + head + "\r\n").encode()
    answer = await raw_http(slack, request + body[:10])  # the rest never comes
    assert answer.split(b"\r\n")[0].endswith(b" 408 Request Timeout")
    assert no_traceback(caplog)
