"""The SSE decoder and chunk parser behind the Qwen client's streaming."""

import logging

import pytest

from bot.sse import Reasoning, SSEDecoder, StreamErrorEvent, StreamFault, Usage, chunk_events


def test_events_split_anywhere_across_network_reads_come_out_whole():
    stream = b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
    for cut in range(1, len(stream)):
        decoder = SSEDecoder()
        payloads = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.flush()
        assert payloads == [b'{"a": 1}', b'{"b": 2}', b"[DONE]"], cut


def test_crlf_comments_and_other_fields_are_understood():
    decoder = SSEDecoder()
    payloads = decoder.feed(b": keep-alive\r\n\r\nevent: message\r\nid: 7\r\ndata:{\"x\":1}\r\n\r\n")
    assert payloads == [b'{"x":1}']


def test_an_event_of_several_data_lines_is_joined_with_newlines():
    assert SSEDecoder().feed(b"data: one\ndata: two\n\n") == [b"one\ntwo"]


def test_an_event_cut_off_by_the_end_of_the_body_is_still_delivered():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: last") == []
    assert decoder.flush() == [b"last"]


def test_a_chunk_yields_its_reasoning_text_and_usage():
    payload = b'{"choices": [{"delta": {"content": "hi", "reasoning_content": "hmm"}}], ' \
              b'"usage": {"prompt_tokens": 3, "completion_tokens": 1}}'
    assert chunk_events(payload) == [Reasoning("hmm"), "hi", Usage(3, 1)]


def test_empty_or_null_reasoning_yields_nothing():
    payload = b'{"choices": [{"delta": {"content": "hi", "reasoning_content": null}}]}'
    assert chunk_events(payload) == ["hi"]


def test_role_only_and_empty_usage_chunks_yield_nothing():
    assert chunk_events(b'{"choices": [{"delta": {"role": "assistant", "content": ""}}]}') == []
    assert chunk_events(b'{"choices": [{"finish_reason": "stop"}], "usage": null}') == []


@pytest.mark.parametrize(
    "payload",
    [b"{nope", b"[1, 2]", b"{}", b'{"choices": {}}', b'{"choices": [1]}',
     b'{"choices": [{"delta": []}]}', b'{"choices": [{"delta": {"content": {"text": "x"}}}]}'],
)
def test_anything_but_a_chat_chunk_is_a_stream_fault(payload: bytes):
    with pytest.raises(StreamFault):
        chunk_events(payload)


def test_an_error_object_in_the_stream_is_raised_with_its_details():
    with pytest.raises(StreamErrorEvent) as caught:
        chunk_events(b'{"error": {"code": "data_inspection_failed", "message": "no"}}')
    assert caught.value.error["code"] == "data_inspection_failed"


def test_malformed_usage_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="bot.sse"):
        assert chunk_events(b'{"choices": [], "usage": {"prompt_tokens": -1}}') == []
    assert len(caplog.records) == 1
