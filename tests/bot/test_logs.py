"""Logs an operator can ship: LOG_FORMAT=json writes one object per line; secrets never appear."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs
from bot.config import ConfigError, Settings, load
from bot.core import ConversationCore
from bot.types import Author, ConversationKey, Incoming
from tests.adapters.test_terminal import chat
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen

KEY = ConversationKey("slack", "T1", "C1", "1700.1")


@pytest.fixture(autouse=True)
def _no_secrets_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_secrets", set())


@pytest.fixture
def shipped() -> Iterator[io.StringIO]:
    """What a JSON handler on the root logger writes, as `qwenbot` sets it up."""
    out = io.StringIO()
    handler = logs.handler("json", out)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(previous)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def record(message: str, *args: object, exc: BaseException | None = None,
           **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args,
                             (type(exc), exc, exc.__traceback__) if exc else None)
    made.__dict__.update(extra)
    return made


def emit(fmt: str, made: logging.LogRecord) -> str:
    out = io.StringIO()
    logs.handler(fmt, out).handle(made)
    return out.getvalue()


def test_a_json_line_holds_time_level_logger_and_message():
    [entry] = [json.loads(line) for line in emit("json", record("hello %s", "there")).splitlines()]
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.test" and entry["message"] == "hello there"
    assert str(entry["time"]).endswith("+00:00") and "T" in str(entry["time"])


def test_a_multi_line_message_and_its_traceback_stay_on_one_line():
    try:
        raise ValueError("bad\nthing")
    except ValueError as exc:
        text = emit("json", record("first\nsecond", exc=exc))
    assert text.count("\n") == 1
    entry = json.loads(text)
    assert entry["message"] == "first\nsecond"
    assert "ValueError: bad" in str(entry["exception"])


def test_fields_given_with_extra_are_shipped():
    entry = json.loads(emit("json", record("done", platform="discord", outcome="answered", latency_ms=12.5)))
    assert (entry["platform"], entry["outcome"], entry["latency_ms"]) == ("discord", "answered", 12.5)
    assert "conversation" not in entry


def test_text_that_orjson_refuses_is_still_one_json_line():
    entry = json.loads(emit("json", record("lone \ud800 surrogate")))
    assert entry["message"] == "lone \ud800 surrogate"


def test_the_default_format_is_a_readable_line():
    text = emit("text", record("hello %s", "there"))
    assert text.endswith(" WARNING bot.test: hello there\n")
    assert not text.startswith("{")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_known_secrets_are_scrubbed_from_messages_and_tracebacks(fmt: str):
    logs.keep_secret("xoxb-very-secret")
    try:
        raise RuntimeError("token xoxb-very-secret was refused")
    except RuntimeError as exc:
        text = emit(fmt, record("calling with %s", "xoxb-very-secret", exc=exc))
    assert "xoxb-very-secret" not in text
    assert "calling with [redacted]" in text and "RuntimeError: token [redacted] was refused" in text


def test_values_too_short_to_be_secrets_are_left_alone():
    logs.keep_secret("ab", "", None)
    assert "ab" in emit("text", record("about"))


def test_secret_settings_and_database_passwords_are_found():
    settings = Settings(qwen_api_key="sk-abcdef", qwen_base_url="http://127.0.0.1:1/v1",
                        database_url="postgresql://bot:p%40ss-word@db:5432/qwenbot")
    assert {"sk-abcdef", "p%40ss-word", "p@ss-word"} <= set(logs.secrets_of(settings))


def test_a_database_password_given_as_a_query_parameter_is_found():
    settings = Settings(qwen_base_url="http://127.0.0.1:1/v1",
                        database_url="postgresql://bot@db/qwenbot?sslmode=require&password=q%2Bsecret")
    assert {"q%2Bsecret", "q+secret"} <= set(logs.secrets_of(settings))


def test_loading_settings_keeps_their_secrets_out_of_logs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-loaded-key")
    load(Settings)
    assert "sk-loaded-key" not in emit("json", record("key is sk-loaded-key"))


def test_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("QWEN_API_KEY", "sk-1")
    assert load(Settings).log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert load(Settings).log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT: must be text or json"):
        load(Settings)


async def test_handling_a_message_logs_its_outcome_and_latency_with_the_conversation(
        core: ConversationCore, shipped: io.StringIO):
    incoming = Incoming(KEY, "m1", Author("u1", "Ann"), "hello")
    await core.handle(incoming, RecordingReply())
    [entry] = [e for e in lines(shipped) if "outcome" in e]
    assert (entry["platform"], entry["conversation"], entry["outcome"]) == ("slack", str(KEY), "answered")
    assert isinstance(entry["latency_ms"], float) and entry["logger"] == "bot.core"


async def test_lines_logged_while_handling_a_message_carry_its_conversation(
        core: ConversationCore, shipped: io.StringIO):
    logger = logging.getLogger("bot.somewhere")

    async def finish(text: str) -> None:
        logger.warning("finishing")

    reply = RecordingReply()
    reply.finish = finish  # type: ignore[method-assign]
    await core.handle(Incoming(KEY, "m1", Author("u1", "Ann"), "hello"), reply)
    [entry] = [e for e in lines(shipped) if e["message"] == "finishing"]
    assert (entry["platform"], entry["conversation"]) == ("slack", str(KEY))
    logger.warning("after")
    assert "conversation" not in lines(shipped)[-1]


async def test_the_chat_with_json_logs_writes_only_json_lines_and_no_key(qwen: FakeQwen, tmp_path):
    code, out, err = await chat(qwen, tmp_path, "hi\n", QWEN_API_KEY="sk-top-secret", LOG_LEVEL="DEBUG",
                                LOG_FORMAT="json")
    assert code == 0 and out == "Hello from fake Qwen.\n"
    entries = [json.loads(line) for line in err.splitlines()]
    assert any(e.get("outcome") == "answered" and e.get("platform") == "terminal" for e in entries)
    assert "sk-top-secret" not in err
