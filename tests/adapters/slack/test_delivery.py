"""Events are verified, acknowledged at once, and answered exactly once whatever Slack redelivers."""

from __future__ import annotations

import logging
import time

import pytest

from tests.adapters.slack.conftest import DM, eventually
from tests.fakes.qwen import Script


async def test_url_verification_challenge_is_answered(slack, start_bot) -> None:
    await start_bot()
    delivery = await slack.post_signed({"token": "t", "challenge": "c0ffee", "type": "url_verification"})
    assert delivery.status == 200
    assert delivery.body == {"challenge": "c0ffee"}


async def test_forged_signature_is_rejected(slack, qwen, start_bot) -> None:
    run = await start_bot()
    delivery = await slack.deliver(slack.message("hi", channel=DM), signature="v0=" + "0" * 64)
    await run.idle()
    assert delivery.status == 401
    assert qwen.requests == []


async def test_request_signed_with_another_secret_is_rejected(slack, qwen, start_bot) -> None:
    run = await start_bot()
    delivery = await slack.deliver(slack.message("hi", channel=DM), secret="not-the-secret")
    await run.idle()
    assert delivery.status == 401
    assert qwen.requests == []


async def test_a_rejected_request_is_logged_without_its_body(slack, qwen, start_bot, caplog) -> None:
    run = await start_bot()
    caplog.set_level(logging.INFO)
    await slack.deliver(slack.message("my private words", channel=DM), secret="not-the-secret")
    await run.idle()
    assert "my private words" not in caplog.text
    assert "check SLACK_SIGNING_SECRET" in caplog.text


async def test_stale_timestamp_is_rejected_even_when_correctly_signed(slack, qwen, start_bot) -> None:
    run = await start_bot()
    delivery = await slack.deliver(slack.message("hi", channel=DM), timestamp=int(time.time()) - 6 * 60)
    await run.idle()
    assert delivery.status == 401
    assert qwen.requests == []


async def test_event_is_acknowledged_before_the_answer_is_written(slack, qwen, start_bot) -> None:
    qwen.queue(Script("slow answer", first_delay=1.0))
    run = await start_bot()
    delivery = await slack.deliver(slack.message("hi", channel=DM))
    assert delivery.status == 200
    assert slack.texts(DM) == []
    await run.idle()
    assert slack.texts(DM) == ["slow answer"]


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_retries_of_one_event_are_answered_once(slack, qwen, start_bot, mode) -> None:
    qwen.queue(Script("only once", delay=0.05))
    run = await start_bot(mode)
    event = slack.message("hi", channel=DM)
    deliveries = [
        await slack.deliver(event, via=mode, event_id="Ev0RETRY", retry_num=n) for n in (None, 1, 2, 3)
    ]
    await run.idle()
    assert [d.status for d in deliveries] == [200] * 4
    assert slack.texts(DM) == ["only once"]
    assert len(qwen.chat_requests) == 1


async def test_redelivery_under_a_new_event_id_is_answered_once(slack, qwen, start_bot) -> None:
    run = await start_bot()
    event = slack.message("hi", channel=DM)
    await slack.deliver(event, event_id="Ev0FIRST")
    await slack.deliver(event, event_id="Ev0SECOND")
    await run.idle()
    assert len(slack.texts(DM)) == 1
    assert len(qwen.chat_requests) == 1


async def test_retry_after_a_restart_is_not_answered_again(slack, qwen, start_bot) -> None:
    first = await start_bot()
    event = slack.message("hi", channel=DM)
    await slack.deliver(event, event_id="Ev0RESTART")
    await first.idle()
    await first.stop()
    second = await start_bot()
    delivery = await slack.deliver(event, event_id="Ev0RESTART", retry_num=1)
    await second.idle()
    assert delivery.status == 200
    assert len(slack.texts(DM)) == 1
    assert len(qwen.chat_requests) == 1


async def test_socket_mode_reconnects_after_the_server_drops_it(slack, qwen, start_bot) -> None:
    run = await start_bot("socket")
    await slack.drop_sockets()
    await eventually(lambda: slack.socket_connected.is_set() and slack.count("apps.connections.open") >= 2)
    await slack.deliver(slack.message("still there?", channel=DM), via="socket")
    await run.idle()
    assert slack.texts(DM) == ["Hello from fake Qwen."]
