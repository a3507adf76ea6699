"""Reading agent-view events and "this channel" questions: pure functions over Slack's documented shapes."""

from __future__ import annotations

import pytest

from adapters.slack.viewing import (
    MOVED,
    OPENED,
    AgentSignal,
    asks_about_viewed_channel,
    history_lines,
    read_signal,
    viewed_channel,
)

# Slack's own example of app_context_changed: no user in the event, the user in `authorizations`.
DOCUMENTED_CONTEXT_CHANGED = {
    "token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
    "event": {"type": "app_context_changed", "context": {"entities": [
        {"type": "slack#/types/channel_id", "value": "C01234ABDCE", "team_id": "T0ABCDE6543"}]}},
    "type": "event_callback",
    "authorizations": [{"team_id": "T123ABC456", "user_id": "U123ABC456", "is_bot": False,
                        "is_enterprise_install": False}],
    "event_id": "Ev123ABC456", "event_time": 123456789,
}
DOCUMENTED_THREAD_STARTED = {
    "team_id": "T123ABC456", "type": "event_callback",
    "event": {"type": "assistant_thread_started", "assistant_thread": {
        "user_id": "U123ABC456",
        "context": {"channel_id": "C123ABC456", "team_id": "T07XY8FPJ5C", "enterprise_id": "E480293PS82"},
        "channel_id": "D123ABC456", "thread_ts": "1729999327.187299"}, "event_ts": "1715873754.429808"},
}


def test_documented_app_context_changed_names_the_user_and_channel():
    assert read_signal(DOCUMENTED_CONTEXT_CHANGED) == AgentSignal(MOVED, "T123ABC456", "U123ABC456",
                                                                  viewing="C01234ABDCE")


def test_an_empty_context_means_viewing_nothing():
    body = {"team_id": "T1", "event": {"type": "app_context_changed", "user": "U1", "context": {}}}
    assert read_signal(body) == AgentSignal(MOVED, "T1", "U1", viewing="")


def test_the_messages_tab_opening_is_a_signal_and_the_home_tab_is_not():
    event = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "messages", "event_ts": "1"}
    assert read_signal({"team_id": "T1", "event": event}) == AgentSignal(OPENED, "T1", "U1", dm="D1")
    assert read_signal({"team_id": "T1", "event": {**event, "tab": "home"}}) is None


def test_the_older_assistant_thread_started_reads_the_same():
    assert read_signal(DOCUMENTED_THREAD_STARTED) == AgentSignal(
        OPENED, "T123ABC456", "U123ABC456", dm="D123ABC456", thread_ts="1729999327.187299",
        viewing="C123ABC456")


def test_a_message_context_entity_gives_its_channel():
    context = {"entities": [{"type": "slack#/types/message_context",
                             "value": {"channel_id": "C9", "message_ts": "1.2"}}]}
    assert viewed_channel(context) == "C9"


@pytest.mark.parametrize("body", [
    {}, {"event": "nope"}, {"event": {"type": "app_context_changed", "context": {}}},
    {"event": {"type": "assistant_thread_started", "assistant_thread": ["x"]}},
    {"event": {"type": "app_context_changed", "user": "U1", "context": {"entities": "C1"}}},
])
def test_malformed_events_are_ignored_or_read_without_the_bad_field(body):
    signal = read_signal(body)
    assert signal is None or signal.viewing == ""


@pytest.mark.parametrize(("text", "asks"), [
    ("Summarise this channel", True), ("what was decided in THIS channel?", True),
    ("summarize the current channel", True), ("catch me up on the channel I'm viewing", True),
    ("what is a channel in Go?", False), ("summarise #general", False),
])
def test_this_channel_questions_are_recognised(text, asks):
    assert asks_about_viewed_channel(text) is asks


def test_history_becomes_named_lines_oldest_first_without_joins():
    newest_first = [
        {"type": "message", "user": "U2", "text": "ok <@U1>", "ts": "3"},
        {"type": "message", "subtype": "channel_join", "user": "U3", "text": "joined", "ts": "2"},
        {"type": "message", "user": "U1", "text": "ship it &amp; go", "ts": "1"},
    ]
    lines = history_lines(newest_first, "C1", "T1", {"U1": "Ann", "U2": "Bo"}, bot_user_id="UBOT")
    assert lines == ["Ann: ship it & go", "Bo: ok @Ann"]
