"""Starting the Slack adapter: settings, credentials, and a clear one-line error for bad tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.config import SlackSettings
from bot.config import ConfigError
from bot.sentences import STOPPED_BEFORE_ANSWER
from tests.adapters.slack.conftest import DM, GENERAL, eventually
from tests.fakes.qwen import Script

MANIFEST = Path(__file__).resolve().parents[3] / "slack" / "manifest.yml"


def test_missing_credentials_are_named(monkeypatch) -> None:
    assert SlackAdapter().missing() == "SLACK_BOT_TOKEN is not set"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    missing = SlackAdapter().missing() or ""
    assert "SLACK_APP_TOKEN" in missing and "SLACK_SIGNING_SECRET" in missing
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert SlackAdapter().missing() is None


def test_settings_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_API_URL", "https://slack-gov.com/api")
    monkeypatch.setenv("SLACK_BLOCKED_USERS", "U1, U2")
    monkeypatch.setenv("ANSWER_BOTS", "true")
    settings = SlackAdapter().settings
    assert settings.slack_api_url == "https://slack-gov.com/api/"
    assert settings.slack_blocked_users == ["U1", "U2"]
    assert (settings.answer_bots, settings.port) == (True, 3000)
    assert not settings.socket_mode


def test_a_user_token_in_place_of_the_bot_token_is_a_config_error(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-user-token")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN: must be a bot token"):
        _ = SlackAdapter().settings


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = SlackSettings(slack_bot_token="xoxb-very-secret", slack_signing_secret="hush")
    assert "very-secret" not in repr(settings) and "hush" not in repr(settings)


async def test_refused_bot_token_stops_start_with_one_line(slack, start_bot) -> None:
    with pytest.raises(ConfigError) as error:
        await start_bot(slack_bot_token="xoxb-wrong")
    assert str(error.value) == "SLACK_BOT_TOKEN was refused by Slack (invalid_auth)."


async def test_refused_app_token_stops_start_with_one_line(slack, start_bot) -> None:
    with pytest.raises(ConfigError) as error:
        await start_bot("socket", slack_app_token="xapp-wrong")
    assert str(error.value) == "SLACK_APP_TOKEN was refused by Slack (invalid_auth)."


async def test_unreachable_slack_is_a_config_error(start_bot) -> None:
    with pytest.raises(ConfigError, match="Cannot reach Slack"):
        await start_bot(slack_api_url="http://127.0.0.1:9/api/")


async def test_every_web_api_call_goes_to_the_configured_url(slack, qwen, start_bot) -> None:
    run = await start_bot()
    await slack.deliver(slack.message("hi", channel=DM))
    await run.idle()
    methods = {name for name, _ in slack.calls}
    assert {"auth.test", "users.info", "chat.postMessage"} <= methods
    assert slack.count("auth.test") == 2  # ours at start, and Bolt's own authorization


def test_manifest_declares_what_the_adapter_uses() -> None:
    text = MANIFEST.read_text()
    assert f"command: {SlackSettings().slack_command}" in text
    for event in ("app_mention", "message.channels", "message.groups", "message.im", "message.mpim"):
        assert f"- {event}" in text
    for scope in ("app_mentions:read", "assistant:write", "chat:write", "commands", "files:read",
                  "users:read", "channels:history", "channels:read", "im:history"):
        assert f"- {scope}" in text
    assert "socket_mode_enabled: true" in text
    assert "interactivity:" in text and "is_enabled: true" in text  # the answers' buttons


async def test_streaming_can_be_turned_off(slack, qwen, start_bot) -> None:
    run = await start_bot(slack_streaming=False)
    events = slack.mention("hi")
    await slack.deliver_all(events)
    await run.idle()
    assert slack.count("chat.startStream") == 0
    assert slack.texts(GENERAL, events[0]["ts"]) == ["Hello from fake Qwen."]


async def test_an_answer_under_way_finishes_before_shutdown(slack, qwen, start_bot) -> None:
    qwen.queue(Script("almost done", first_delay=0.3))
    run = await start_bot()
    await slack.deliver(slack.message("hi", channel=DM))
    await run.stop()
    assert slack.texts(DM) == ["almost done"]


async def test_an_answer_cut_by_shutdown_ends_with_the_interrupted_mark(slack, qwen, start_bot) -> None:
    qwen.queue(Script("first words and then a long pause", chunks=2, delay=30))
    run = await start_bot()
    await slack.deliver(slack.message("hi", channel=DM))
    await eventually(lambda: slack.texts(DM))
    await run.stop(grace=0)
    (text,) = slack.texts(DM)
    assert text.startswith("first words") and text.endswith("_(reply interrupted)_")


async def test_an_answer_cut_by_shutdown_is_remembered_as_the_answer(slack, qwen, start_bot) -> None:
    qwen.queue(Script("first words and then a long pause", chunks=2, delay=30))
    run = await start_bot()
    await slack.deliver(slack.message("hi", channel=DM))
    await eventually(lambda: slack.texts(DM))
    await run.stop(grace=0)
    run = await start_bot()
    await slack.deliver(slack.message("go on", channel=DM))
    await run.idle()
    roles = [m["role"] for m in qwen.chat_requests[-1]["messages"] if m["role"] != "system"]
    assert roles == ["user", "assistant", "user"]
    assert qwen.chat_requests[-1]["messages"][-2]["content"].startswith("first words")


async def test_a_message_still_downloading_its_file_at_shutdown_is_told_it_was_stopped(
    slack, qwen, start_bot
) -> None:
    run = await start_bot()
    held = slack.hold("files")
    source = slack.add_file("F0CODE", "main.py", "text/x-python", b"print(1)\n")
    await slack.deliver(slack.message("review this", channel=DM, files=[source]))
    await eventually(lambda: slack.file_requests == ["F0CODE"])
    await run.stop(grace=0)
    held.set()
    assert slack.texts(DM) == [STOPPED_BEFORE_ANSWER]
    assert not qwen.chat_requests
