"""Every command as the adapters call it, against a real store."""

from bot import commands, sentences
from bot.core import ConversationCore
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script

KEY = ConversationKey("slack", "T1", "C1")


async def say(core: ConversationCore, text: str, user: str = "u1", key: ConversationKey = KEY,
              message_id: str | None = None) -> None:
    incoming = Incoming(key, message_id or f"{text}-{user}", Author(user, user.upper()), text)
    await core.handle(incoming, RecordingReply())


async def test_reset_forgets_the_conversation_but_keeps_its_persona(core: ConversationCore, qwen: FakeQwen):
    await core.commands.persona(KEY, "Be terse.")
    await say(core, "remember kites")
    answer = await core.commands.reset(KEY)
    assert "2 messages" in answer
    await say(core, "what now?")
    messages = qwen.requests[-1]["messages"]
    assert messages[0]["content"] == "Be terse."
    assert [m["content"] for m in messages[1:]] == ["U1: what now?"]


async def test_persona_shows_sets_and_clears(core: ConversationCore):
    assert "default persona" in await core.commands.persona(KEY)
    assert await core.commands.persona(KEY, "You are a pirate.") == "Persona set for this conversation."
    assert "You are a pirate." in await core.commands.persona(KEY)
    assert "cleared" in await core.commands.persona(KEY, "clear")
    assert "default persona" in await core.commands.persona(KEY)


async def test_an_overlong_persona_is_refused(core: ConversationCore):
    answer = await core.commands.persona(KEY, "x" * 5000)
    assert "limit" in answer
    assert "default persona" in await core.commands.persona(KEY)


async def test_model_shows_the_current_model_and_the_choices(core: ConversationCore):
    answer = await core.commands.model(KEY)
    assert answer == "Model: `qwen-max`. Available: `qwen-max`, `qwen-plus`, `qwen-turbo`."


async def test_model_switches_to_an_allowed_model(core: ConversationCore, qwen: FakeQwen):
    assert await core.commands.model(KEY, "qwen-turbo") == "This conversation now uses `qwen-turbo`."
    await say(core, "hi")
    assert qwen.requests[0]["model"] == "qwen-turbo"


async def test_an_unknown_model_gets_the_list(core: ConversationCore):
    answer = await core.commands.model(KEY, "gpt-9")
    assert answer == "Unknown model `gpt-9`. Available: `qwen-max`, `qwen-plus`, `qwen-turbo`."
    assert "qwen-max" in await core.commands.model(KEY)


async def test_memory_reports_turns_tokens_and_the_summary(core: ConversationCore):
    assert await core.commands.memory(KEY) == "I remember nothing of this conversation yet."
    await say(core, "hello there")
    answer = await core.commands.memory(KEY)
    assert answer.startswith("I remember 2 messages (")
    assert "Budget: 8,000 tokens." in answer


async def test_memory_tells_the_retention_in_force(make_settings):
    core = await ConversationCore.start(make_settings(retention_days=30))
    try:
        assert await core.commands.memory(KEY) == ("I remember nothing of this conversation yet."
                                                   " I keep messages for 30 days, then delete them.")
        await say(core, "hello there")
        assert (await core.commands.memory(KEY)).endswith(
            "tokens. I keep messages for 30 days, then delete them.")
    finally:
        await core.close()


async def test_memory_tells_a_retention_of_one_day_in_the_singular(make_settings):
    core = await ConversationCore.start(make_settings(retention_days=1))
    try:
        assert (await core.commands.memory(KEY)).endswith(" I keep messages for one day, then delete them.")
    finally:
        await core.close()


async def test_memory_says_nothing_of_retention_when_messages_are_kept_forever(core: ConversationCore):
    await say(core, "hello there")
    assert "delete" not in await core.commands.memory(KEY)


async def test_usage_reports_the_conversation_the_space_and_the_user(core: ConversationCore, qwen: FakeQwen):
    qwen.queue(Script(text="a b", prompt_tokens=40), Script(text="c", prompt_tokens=10))
    await say(core, "one")
    await say(core, "two", key=ConversationKey("slack", "T1", "C2"), user="u2")
    answer = await core.commands.usage(KEY, "u1")
    lines = answer.split("\n")
    assert lines[0].startswith("This conversation: 42 tokens (40 in, 2 out) today")
    assert lines[1].startswith("This workspace: 53 tokens (50 in, 3 out) today")
    assert lines[2] == "You: 42 tokens (40 in, 2 out) today."


async def test_forget_me_deletes_the_users_turns_everywhere_on_the_platform(core: ConversationCore,
                                                                            qwen: FakeQwen):
    other = ConversationKey("slack", "T1", "C2")
    await say(core, "my secret", user="u1")
    await say(core, "my other secret", user="u1", key=other)
    await say(core, "bo's words", user="u2")
    answer = await core.commands.forget_me("slack", "u1")
    assert answer.startswith("Deleted 2 messages of yours")
    await say(core, "anything?", user="u2", message_id="after")
    sent = str(qwen.requests[-1]["messages"])
    assert "my secret" not in sent and "bo's words" in sent


async def test_forget_me_leaves_other_platforms_alone(core: ConversationCore):
    discord = ConversationKey("discord", "g", "c")
    await say(core, "kept", user="u1", key=discord)
    await core.commands.forget_me("slack", "u1")
    assert (await core.store.stats(discord)).turns == 2


async def test_channel_mode_shows_and_switches(core: ConversationCore):
    assert await core.commands.channel_mode(KEY) == "Channel mode: `mention`."
    assert "every message" in await core.commands.channel_mode(KEY, "always")
    assert (await core.channel_mode(KEY)).value == "always"
    assert "must be" in await core.commands.channel_mode(KEY, "sometimes")
    assert "thread of its own" in await core.commands.channel_mode(KEY, "Thread")
    assert (await core.channel_mode(KEY)).value == "thread"


async def test_usage_in_a_dm_has_no_server_line(core: ConversationCore):
    answer = await core.commands.usage(ConversationKey("discord", "dm", "d1"), "u1")
    assert [line.split(":")[0] for line in answer.split("\n")] == ["This conversation", "You"]


async def test_command_lines_are_dispatched_by_name(core: ConversationCore):
    command, arg = commands.split("/model qwen-plus")
    assert command is not None
    assert await core.commands.run(command, arg, KEY, "u1") == "This conversation now uses `qwen-plus`."


def test_names_are_found_in_any_case_with_underscores_and_aliases():
    assert [commands.find(n).name for n in ("RESET", "/forget_me", "forgetme")] == [  # type: ignore[union-attr]
        "reset", "forget-me", "forget-me"]
    assert commands.find("dance") is None


def test_changing_commands_need_permission_only_when_they_change_something():
    persona, reset, memory = (commands.find(n) for n in ("persona", "reset", "memory"))
    assert persona and reset and memory
    assert (persona.needs_permission(""), persona.needs_permission("be terse")) == (False, True)
    assert reset.needs_permission("") and not memory.needs_permission("")


def test_help_lists_every_command_with_the_platforms_prefix():
    text = commands.help_text("/qwen ")
    assert all(f"`/qwen {c.name}" in text for c in commands.COMMANDS)
    assert "`/qwen channel-mode [mention|always|thread]`" in text


def test_usage_help_names_each_platforms_space():
    usage = commands.find("usage")
    assert usage is not None
    assert "this server" in usage.describe("discord")
    assert "this workspace" in usage.describe("slack")
    assert usage.describe("terminal") == "Tokens used here and by you"
    assert "server" not in commands.help_text("/", platform="terminal")


async def test_one_of_anything_is_singular(core: ConversationCore):
    await core.record(Incoming(KEY, "only", Author("u1", "U1"), "x"))
    assert (await core.commands.memory(KEY)).startswith("I remember 1 message (")
    assert "(1 message)" in await core.commands.reset(KEY)
    await core.record(Incoming(KEY, "again", Author("u1", "U1"), "x"))
    assert (await core.commands.forget_me("slack", "u1")).startswith("Deleted 1 message of yours")


def test_plural_counts_nouns():
    from bot.sentences import plural

    assert [plural(n, "message") for n in (0, 1, 2, 1500)] == [
        "0 messages", "1 message", "2 messages", "1,500 messages"]
    assert plural(1, "reply", "replies") == "1 reply" and plural(3, "reply", "replies") == "3 replies"


async def test_thinking_shows_sets_and_refuses_anything_but_on_or_off(make_settings):
    core = await ConversationCore.start(make_settings(qwen_model="qwen3-max"))
    try:
        assert "**off**" in await core.commands.thinking(KEY)
        assert await core.commands.thinking(KEY, "On") == sentences.THINKING_SET.format(state="on")
        assert "**on**" in await core.commands.thinking(KEY)
        assert await core.commands.thinking(KEY, "maybe") == sentences.ON_OFF
    finally:
        await core.close()


async def test_thinking_says_when_the_model_does_not_think(core: ConversationCore):
    await core.commands.model(KEY, "qwen-max")
    assert sentences.THINKING_NEVER.format(model="qwen-max") in await core.commands.thinking(KEY, "on")


async def test_thinking_says_when_the_model_always_thinks(make_settings):
    core = await ConversationCore.start(make_settings(qwen_model="qwq-plus"))
    try:
        assert sentences.THINKING_ALWAYS.format(model="qwq-plus") in await core.commands.thinking(KEY, "off")
    finally:
        await core.close()


async def test_search_is_not_available_off_dashscope(core: ConversationCore):
    assert await core.commands.search(KEY, "on") == sentences.SEARCH_UNAVAILABLE
    assert await core.commands.search(KEY) == sentences.SEARCH_UNAVAILABLE


async def test_search_shows_and_sets_on_dashscope(make_settings):
    core = await ConversationCore.start(make_settings(qwen_dashscope=True))
    try:
        assert "**off**" in await core.commands.search(KEY)
        assert await core.commands.search(KEY, "on") == sentences.SEARCH_SET.format(state="on")
        assert "**on**" in await core.commands.search(KEY)
        assert await core.commands.search(KEY, "yes") == sentences.ON_OFF
    finally:
        await core.close()
