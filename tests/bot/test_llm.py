"""The Qwen client, driven through the real openai SDK against the fake server."""

import socket

import pytest

from bot.llm import MESSAGES, LLMError, QwenClient, StreamInterrupted, Usage
from tests.fakes.qwen import FakeQwen, Script

MESSAGES_IN = [{"role": "user", "content": "hi"}]


async def collect(client: QwenClient, model: str = "qwen-max") -> tuple[str, Usage | None]:
    text, usage = "", None
    async for event in client.stream(MESSAGES_IN, model):
        if isinstance(event, Usage):
            usage = event
        else:
            text += event
    return text, usage


@pytest.fixture
async def client(make_settings):
    instance = QwenClient(make_settings())
    yield instance
    await instance.close()


async def test_streams_text_and_reports_usage(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="one two three", prompt_tokens=11))
    text, usage = await collect(client)
    assert text == "one two three"
    assert usage == Usage(11, 3)


async def test_asks_for_usage_and_sends_max_completion_tokens(client: QwenClient, qwen: FakeQwen):
    await collect(client)
    body = qwen.requests[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 2048
    assert "max_tokens" not in body


async def test_sends_the_configured_key(client: QwenClient, qwen: FakeQwen):
    await collect(client)
    assert qwen.auth_headers == ["Bearer sk-test"]


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        (Script(status=401, error_code="invalid_api_key"), "auth"),
        (Script(status=429, error_code="Throttling"), "rate_limited"),
        (Script(status=400, error_code="data_inspection_failed",
                error_message="Input data may contain inappropriate content."), "content_refused"),
        (Script(status=404, error_code="model_not_found",
                error_message="The model `qwen-nope` does not exist."), "unknown_model"),
        (Script(status=400, error_code="Arrearage", error_message="Access denied."), "arrearage"),
        (Script(status=500, error_code="InternalError"), "server_error"),
    ],
)
async def test_each_failure_becomes_one_short_sentence(client: QwenClient, qwen: FakeQwen, script: Script,
                                                      kind: str):
    qwen.queue(script)
    with pytest.raises(LLMError) as caught:
        await collect(client, "qwen-nope" if kind == "unknown_model" else "qwen-max")
    assert caught.value.kind == kind
    assert caught.value.user_message == MESSAGES[kind].format(model="qwen-nope")
    assert "\n" not in caught.value.user_message


async def test_rate_limits_before_the_first_token_are_retried(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=2))
    qwen.queue(Script(status=429, retry_after=0.05), Script(status=503, retry_after=0.05), Script(text="ok"))
    try:
        assert (await collect(client))[0] == "ok"
    finally:
        await client.close()
    assert len(qwen.requests) == 3


async def test_a_stream_silent_past_the_first_token_timeout_is_retried(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_first_token_timeout=0.3, qwen_max_retries=1))
    qwen.queue(Script(first_delay=3), Script(text="second try"))
    try:
        assert (await collect(client))[0] == "second try"
    finally:
        await client.close()


async def test_a_model_that_never_starts_answering_times_out(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_first_token_timeout=0.3, qwen_max_retries=0))
    qwen.queue(Script(first_delay=3))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "timeout"


async def test_a_stream_cut_after_text_is_interrupted_not_failed(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="a b c d e f", cut_after=3))
    received = []
    with pytest.raises(StreamInterrupted):
        async for event in client.stream(MESSAGES_IN, "qwen-max"):
            received.append(event)
    assert "".join(received) == "a b c "


async def test_a_stream_idle_past_the_idle_timeout_is_interrupted(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_idle_timeout=0.3))
    qwen.queue(Script(text="a b c", delay=2))
    try:
        with pytest.raises(StreamInterrupted):
            await collect(client)
    finally:
        await client.close()


async def test_an_unreachable_server_is_reported_as_unreachable(make_settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = QwenClient(make_settings(qwen_base_url=f"http://127.0.0.1:{port}/v1"))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "unreachable"


async def test_complete_returns_text_and_usage(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="a summary", prompt_tokens=7))
    text, usage = await client.complete(MESSAGES_IN, "qwen-max", 100)
    assert text == "a summary"
    assert usage.prompt_tokens == 7
    assert qwen.requests[0].get("stream") in (None, False)


async def test_complete_turns_thinking_off_for_qwen3(client: QwenClient, qwen: FakeQwen):
    await client.complete(MESSAGES_IN, "qwen3-max", 100)
    assert qwen.requests[0]["enable_thinking"] is False


async def test_an_error_event_inside_the_stream_is_classified(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="a b c", error_after=0, error_code="data_inspection_failed",
                      error_message="Output data may contain inappropriate content."))
    with pytest.raises(LLMError) as caught:
        await collect(client)
    assert caught.value.kind == "content_refused"


async def test_moderation_stopping_an_answer_half_way_is_a_refusal_not_an_interruption(
    client: QwenClient, qwen: FakeQwen
):
    qwen.queue(Script(text="a b c d", error_after=2, error_code="data_inspection_failed"))
    with pytest.raises(LLMError) as caught:
        await collect(client)
    assert caught.value.kind == "content_refused"
