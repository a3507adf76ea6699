"""Which models think, and the thinking and search fields a request carries."""

import pytest

from bot.memory import ConversationSettings
from bot.thinking import Thinks, not_thinking, request_options, thinks

ON, OFF = ConversationSettings(thinking=True), ConversationSettings(thinking=False)
UNSET = ConversationSettings()


@pytest.mark.parametrize(("model", "group"), [
    ("qwq-plus", Thinks.ALWAYS), ("qwen3-235b-a22b-thinking-2507", Thinks.ALWAYS), ("qvq-max", Thinks.ALWAYS),
    ("qwen3.5-plus", Thinks.DEFAULT), ("qwen3.7-max", Thinks.DEFAULT), ("qwen4-plus", Thinks.DEFAULT),
    ("qwen3-max", Thinks.HYBRID), ("qwen3-8b", Thinks.HYBRID), ("Qwen/Qwen3-32B", Thinks.HYBRID),
    ("qwen-plus", Thinks.HYBRID), ("qwen-flash", Thinks.HYBRID), ("qwen-turbo-latest", Thinks.HYBRID),
    ("qwen-max", Thinks.NEVER), ("qwen2.5-72b-instruct", Thinks.NEVER),
    ("qwen3-235b-a22b-instruct-2507", Thinks.NEVER), ("qwen-vl-max", Thinks.NEVER), ("llama3", Thinks.NEVER),
])
def test_models_are_grouped_by_how_they_think(model: str, group: Thinks):
    assert thinks(model) is group


def test_hybrid_and_default_thinkers_are_told_the_conversations_choice(make_settings):
    settings = make_settings()
    assert request_options(settings, UNSET, "qwen-plus") == {"enable_thinking": False}
    assert request_options(settings, ON, "qwen-plus") == {"enable_thinking": True}
    # Qwen3.5+ think unless told not to: off has to be said.
    assert request_options(settings, OFF, "qwen3.6-plus") == {"enable_thinking": False}


def test_qwen_thinking_sets_the_default_and_the_budget_goes_with_thinking(make_settings):
    settings = make_settings(qwen_thinking=True, qwen_thinking_budget=500)
    assert request_options(settings, UNSET, "qwen3-max") == {"enable_thinking": True, "thinking_budget": 500}
    assert request_options(settings, OFF, "qwen3-max") == {"enable_thinking": False}


def test_models_that_always_think_get_no_switch_but_their_budget(make_settings):
    settings = make_settings(qwen_thinking_budget=500)
    assert request_options(settings, OFF, "qwq-plus") == {"thinking_budget": 500}


def test_models_that_never_think_get_no_thinking_fields(make_settings):
    assert request_options(make_settings(qwen_thinking_budget=500), ON, "qwen-max") == {}


def test_search_is_sent_with_its_options_on_dashscope_only(make_settings):
    wanted = ConversationSettings(search=True)
    options = {"search_strategy": "agent"}
    dashscope = make_settings(qwen_dashscope=True, qwen_search_options=options)
    assert request_options(dashscope, wanted, "qwen-max") == {
        "enable_search": True, "search_options": options}
    assert request_options(make_settings(qwen_search_options=options), wanted, "qwen-max") == {}
    assert request_options(make_settings(qwen_dashscope=True, qwen_search=True), UNSET, "qwen-max") == {
        "enable_search": True}


def test_non_streaming_calls_turn_thinking_off_where_it_can_be_on():
    assert not_thinking("qwen3.5-plus") == not_thinking("qwen-plus") == {"enable_thinking": False}
    assert not_thinking("qwen-max") is None
