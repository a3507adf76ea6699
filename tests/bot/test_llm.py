"""The Qwen client, driven through the real openai SDK against the fake server."""

import asyncio
import logging
import socket

import aiohttp
import pytest

from bot.config import Settings
from bot.llm import MESSAGES, LLMError, QwenClient, Reasoning, StreamInterrupted, Usage
from tests.fakes.qwen import FakeQwen, Script
from tests.waiting import until

MESSAGES_IN = [{"role": "user", "content": "hi"}]


async def collect(client: QwenClient, model: str = "qwen-max") -> tuple[str, Usage | None]:
    text, usage = "", None
    async for event in client.stream(MESSAGES_IN, model):
        if isinstance(event, Usage):
            usage = event
        elif isinstance(event, str):
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
        (Script(status=403, error_code="Model.AccessDenied"), "forbidden"),
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
    model = "qwen-nope" if kind == "unknown_model" else "qwen-max"
    with pytest.raises(LLMError) as caught:
        await collect(client, model)
    assert caught.value.kind == kind
    assert caught.value.user_message == MESSAGES[kind].format(model=model)
    assert "\n" not in caught.value.user_message


async def test_a_403_is_not_described_as_a_bad_key(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(status=403, error_code="AccessDenied", error_message="Model access denied."))
    with pytest.raises(LLMError) as caught:
        await collect(client)
    assert "403" in caught.value.user_message
    assert "401" not in caught.value.user_message and "rejected" not in caught.value.user_message


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


async def test_complete_streams_for_a_model_that_always_thinks_and_drops_its_reasoning(
        client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="a summary", reasoning="let me see", prompt_tokens=7))
    text, usage = await client.complete(MESSAGES_IN, "qwq-plus", 100)
    assert (text, usage.prompt_tokens) == ("a summary", 7)
    assert qwen.requests[0]["stream"] is True


async def test_a_model_that_always_thinks_refuses_a_call_without_streaming(qwen: FakeQwen):
    async with aiohttp.ClientSession() as http:
        body = {"model": "qwen3-235b-a22b-thinking-2507", "messages": MESSAGES_IN}
        async with http.post(f"{qwen.base_url}/chat/completions", json=body) as response:
            assert response.status == 400


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


# -- misbehaving model servers -------------------------------------------------------------------


async def collect_until_interrupted(client: QwenClient) -> str:
    received = []
    with pytest.raises(StreamInterrupted):
        async for event in client.stream(MESSAGES_IN, "qwen-max"):
            received.append(event)
    return "".join(str(event) for event in received)


@pytest.mark.parametrize(
    "bad_chunk",
    [
        "{not json",
        '{"id": "x", "choices": [{"index": 0, "delta": {"content": 42}}]}',
        '{"id": "x", "choices": [{"index": 0, "delta": {"content": ["a", "b"]}}]}',
        '{"id": "x"}',
        '{"id": "x", "choices": "nope"}',
        '{"id": "x", "choices": [{"index": 0, "delta": "text"}]}',
        '"just a string"',
    ],
    ids=["invalid-json", "number-content", "list-content", "no-choices", "choices-not-a-list",
         "delta-not-an-object", "not-an-object"],
)
async def test_an_odd_chunk_after_some_text_ends_the_answer_as_interrupted_keeping_the_text(
    client: QwenClient, qwen: FakeQwen, bad_chunk: str
):
    qwen.queue(Script(text="a b c d", bad_chunk=bad_chunk, bad_after=2))
    assert await collect_until_interrupted(client) == "a b "


@pytest.mark.parametrize("bad_chunk", ["{not json", '{"choices": [{"delta": {"content": 1}}]}', "{}"])
async def test_an_odd_chunk_before_any_text_is_one_short_sentence(
    client: QwenClient, qwen: FakeQwen, bad_chunk: str
):
    qwen.queue(Script(text="a b", bad_chunk=bad_chunk, bad_after=0))
    with pytest.raises(LLMError) as caught:
        await collect(client)
    assert caught.value.kind == "bad_stream"
    assert caught.value.user_message == MESSAGES["bad_stream"]


async def test_an_odd_chunk_is_logged_as_one_warning_line_without_a_traceback(
    client: QwenClient, qwen: FakeQwen, caplog: pytest.LogCaptureFixture
):
    qwen.queue(Script(text="a b c", bad_chunk="{not json", bad_after=1))
    with caplog.at_level(logging.DEBUG, logger="bot"):
        await collect_until_interrupted(client)
    records = [r for r in caplog.records if r.name.startswith("bot")]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert records[0].exc_info is None and "\n" not in records[0].getMessage()


async def test_malformed_usage_keeps_the_answer_and_reports_no_usage(client: QwenClient, qwen: FakeQwen):
    qwen.queue(Script(text="a b", bad_chunk='{"choices": [], "usage": {"prompt_tokens": "many"}}',
                      bad_after=1))
    text, usage = await collect(client)
    assert text == "a b"
    assert usage is not None and usage.completion_tokens == 2  # the well-formed usage that followed


async def test_reasoning_counts_as_the_first_token_and_arrives_apart_from_the_answer(
    make_settings, qwen: FakeQwen
):
    client = QwenClient(make_settings(qwen_first_token_timeout=0.5))
    qwen.queue(Script(reasoning="let me think " * 5, delay=0.2, text="the answer"))
    thoughts, text = "", ""
    try:
        async for event in client.stream(MESSAGES_IN, "qwen-max"):
            if isinstance(event, Reasoning):
                thoughts += event.text
            elif isinstance(event, str):
                text += event
    finally:
        await client.close()
    assert (text, thoughts) == ("the answer", "letmethink" * 5)  # the fake sends words without spaces
    assert len(qwen.requests) == 1


async def test_stream_options_go_into_the_request_body(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings())
    try:
        async for _ in client.stream(MESSAGES_IN, "qwen3-max", options={"enable_thinking": True}):
            pass
    finally:
        await client.close()
    assert qwen.flags[-1] == {"enable_thinking": True}


async def test_a_non_streaming_call_turns_thinking_off_for_models_that_can_think(
    make_settings, qwen: FakeQwen
):
    client = QwenClient(make_settings())
    try:
        await client.complete(MESSAGES_IN, "qwen3.6-plus", 100)
        await client.complete(MESSAGES_IN, "qwen-max", 100)
    finally:
        await client.close()
    assert qwen.flags == [{"enable_thinking": False}, {}]


async def test_keep_alive_comments_are_not_a_first_token(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_first_token_timeout=0.3, qwen_max_retries=0))
    qwen.queue(Script(first_delay=3, keepalive=0.05))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "timeout"


# -- retries ---------------------------------------------------------------------------------------


async def test_a_429_asking_for_more_than_the_rate_limit_wait_says_the_model_is_busy_at_once(
    make_settings, qwen: FakeQwen
):
    client = QwenClient(make_settings(qwen_max_retries=2, qwen_rate_limit_wait=20))
    qwen.queue(Script(status=429, retry_after=50))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "rate_limited"
    assert caught.value.user_message == MESSAGES["rate_limited"]
    assert len(qwen.requests) == 1


async def test_429_waits_never_add_up_past_the_rate_limit_wait(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=5, qwen_rate_limit_wait=0.25))
    qwen.queue(*[Script(status=429, retry_after=0.1) for _ in range(5)])
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "rate_limited"
    assert len(qwen.requests) == 3  # waited 0.1 + 0.1; a third wait would pass 0.25


async def test_a_429_with_a_retry_after_date_is_honoured(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=1))
    qwen.queue(Script(status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
               Script(text="ok"))
    try:
        assert (await collect(client))[0] == "ok"
    finally:
        await client.close()


async def test_server_errors_are_retried_a_bounded_number_of_times(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=2))
    qwen.queue(*[Script(status=500, retry_after=0.01) for _ in range(4)])
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "server_error"
    assert len(qwen.requests) == 3


async def test_a_connection_dropped_before_the_first_token_is_retried(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=1))
    qwen.queue(Script(text="lost", cut_after=0), Script(text="ok"))
    try:
        assert (await collect(client))[0] == "ok"
    finally:
        await client.close()
    assert len(qwen.requests) == 2


async def test_the_sdk_does_not_retry_streaming_calls_behind_our_back(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=0))
    qwen.queue(Script(status=503, retry_after=0.01), Script(text="ok"))
    try:
        with pytest.raises(LLMError):
            await collect(client)
    finally:
        await client.close()
    assert len(qwen.requests) == 1


async def test_bad_requests_are_not_retried(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(qwen_max_retries=2))
    qwen.queue(Script(status=400, error_code="InvalidParameter"), Script(text="ok"))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "bad_request"
    assert len(qwen.requests) == 1


def test_the_default_first_token_wait_with_retries_is_under_a_minute():
    defaults = Settings(qwen_base_url="http://127.0.0.1:1/v1")  # type: ignore[call-arg]
    assert defaults.qwen_max_retries >= 1
    assert defaults.first_token_budget < 60


async def test_no_try_waits_past_the_first_token_budget(make_settings, qwen: FakeQwen):
    settings = make_settings(qwen_first_token_timeout=0.3, qwen_max_retries=1)
    client = QwenClient(settings)
    # A Retry-After that would end past the budget is not waited for.
    qwen.queue(Script(status=503, retry_after=settings.first_token_budget + 1), Script(text="ok"))
    try:
        with pytest.raises(LLMError) as caught:
            await collect(client)
    finally:
        await client.close()
    assert caught.value.kind == "server_error"
    assert len(qwen.requests) == 1


# -- slots ---------------------------------------------------------------------------------------


async def test_stalled_calls_do_not_starve_a_healthy_one(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(max_concurrent_replies=2, qwen_stall_grace=0.2,
                                      qwen_first_token_timeout=30))
    qwen.queue(Script(first_delay=30), Script(first_delay=30))
    hanging = [asyncio.create_task(collect(client)) for _ in range(2)]
    try:
        await until(lambda: client.slots.stalled == 2, message="both calls to stall")
        assert client.slots.in_flight == 0
        assert (await asyncio.wait_for(collect(client), 10))[0] == "Hello from fake Qwen."
    finally:
        for task in hanging:
            task.cancel()
        await asyncio.gather(*hanging, return_exceptions=True)
        await client.close()
    assert (client.slots.in_flight, client.slots.waiting, client.slots.stalled) == (0, 0, 0)


async def test_calls_beyond_the_limit_wait_for_a_slot(make_settings, qwen: FakeQwen):
    client = QwenClient(make_settings(max_concurrent_replies=1, qwen_stall_grace=30))
    qwen.queue(Script(text="a b c", delay=0.05), Script(text="second"))
    try:
        first = asyncio.create_task(collect(client))
        await until(lambda: client.slots.in_flight == 1, message="the first call")
        second = asyncio.create_task(collect(client))
        await until(lambda: client.slots.waiting == 1, message="the second call to queue")
        assert len(qwen.requests) == 1
        assert (await second)[0] == "second"
        await first
    finally:
        await client.close()
    assert qwen.max_in_flight == 1


async def test_finished_streams_give_their_connection_back_for_the_next_call(client: QwenClient,
                                                                             qwen: FakeQwen):
    for _ in range(3):
        await collect(client)
    assert len(qwen.client_ports) == 1
