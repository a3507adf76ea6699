"""An answer's reasoning end to end: a live status, kept apart from the answer, readable a while."""

from bot import reasoning, sentences
from bot.commands import COMMANDS
from bot.core import ConversationCore, Outcome
from bot.reply import Status
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script

KEY = ConversationKey("discord", "guild1", "general")
THREAD = ConversationKey("discord", "guild1", "general", "thread9")
THINKER = "qwen3-max"
REASONING = next(command for command in COMMANDS if command.name == "reasoning")


async def ask(core: ConversationCore, text: str, key: ConversationKey = KEY) -> RecordingReply:
    reply = RecordingReply()
    outcome = await core.handle(Incoming(key, text, Author("u1", "Ann"), text), reply)
    assert outcome is Outcome.ANSWERED
    return reply


async def thinking_core(make_settings, **overrides: object) -> ConversationCore:
    settings = {"qwen_model": THINKER, "qwen_thinking": True, **overrides}
    return await ConversationCore.start(make_settings(**settings))


async def test_reasoning_never_reaches_the_answer_the_memory_or_the_next_prompt(
    make_settings, qwen: FakeQwen
):
    core = await thinking_core(make_settings)
    try:
        qwen.queue(Script(reasoning="secret musings", text="The answer."))
        reply = await ask(core, "why?")
        await ask(core, "and then?")
        turns = await core.store.turns_after(KEY, 0)
    finally:
        await core.close()
    assert reply.final == "The answer."
    assert all("musings" not in text for text in reply.partials)
    assert all("musings" not in turn.text for turn in turns)
    assert "musings" not in str(qwen.requests[-1]["messages"])


async def test_while_the_model_reasons_the_reply_shows_it_is_thinking_until_the_text_begins(
    make_settings, qwen: FakeQwen
):
    core = await thinking_core(make_settings)
    try:
        qwen.queue(Script(reasoning="one two three four", reasoning_delay=0.4, text="Done."))
        reply = await ask(core, "think hard")
    finally:
        await core.close()
    shown = [s for s in reply.statuses if s is not None]
    assert shown and all(s.activity == "thinking" for s in shown)
    assert shown[-1].seconds >= 1  # ticking: the seconds go up while it thinks
    assert reply.statuses[-1] is None
    # The status is over before the first text, so it can never overwrite the answer.
    assert reply.events.index("partial") > max(i for i, e in enumerate(reply.events) if e == "status")


async def test_the_status_text_says_what_the_model_does_and_for_how_long():
    assert Status("thinking", 12).text == "Thinking… 12 s"
    assert Status("searching", 3).text == "Searching the web… 3 s"


async def test_an_answer_without_reasoning_shows_no_status(core: ConversationCore, qwen: FakeQwen):
    reply = await ask(core, "hello")
    assert reply.statuses == []
    assert reply.reasoning_ref is None


async def test_the_fake_model_receives_the_conversations_thinking_and_search_flags(
    make_settings, qwen: FakeQwen
):
    core = await ConversationCore.start(make_settings(
        qwen_model=THINKER, qwen_dashscope=True, qwen_thinking_budget=300,
        qwen_search_options={"search_strategy": "agent"}))
    try:
        await ask(core, "plain")
        await core.commands.thinking(KEY, "on")
        await core.commands.search(KEY, "on")
        await ask(core, "deep")
    finally:
        await core.close()
    assert qwen.flags == [
        {"enable_thinking": False},
        {"enable_thinking": True, "thinking_budget": 300, "enable_search": True,
         "search_options": {"search_strategy": "agent"}},
    ]


async def test_while_searching_the_status_says_so(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(qwen_dashscope=True, qwen_search=True))
    try:
        qwen.queue(Script(first_delay=0.3, text="Found it."))
        reply = await ask(core, "news?")
    finally:
        await core.close()
    assert reply.statuses[0] == Status("searching", 0)
    assert reply.statuses[-1] is None


async def test_a_thread_follows_its_channels_thinking_until_it_sets_its_own(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(qwen_model=THINKER))
    try:
        await core.commands.thinking(KEY, "on")
        await ask(core, "in the thread", key=THREAD)
        await core.commands.thinking(THREAD, "off")
        await ask(core, "again", key=THREAD)
    finally:
        await core.close()
    assert [flags["enable_thinking"] for flags in qwen.flags] == [True, False]


async def test_the_reasoning_command_shows_the_last_answers_reasoning(make_settings, qwen: FakeQwen):
    core = await thinking_core(make_settings)
    try:
        assert await core.commands.run(REASONING, "", KEY, "u1") == sentences.REASONING_NONE
        qwen.queue(Script(reasoning="first thought", text="One."),
                   Script(reasoning="second thought", text="Two."))
        await ask(core, "q1")
        reply = await ask(core, "q2")
        shown = await core.commands.run(REASONING, "", KEY, "u1")
    finally:
        await core.close()
    assert shown == sentences.REASONING_SHOWN.format(text="secondthought")  # the fake drops the spaces
    assert reply.reasoning_ref == "q2"


async def test_an_older_answers_reasoning_is_gone_once_a_newer_one_is_kept(make_settings, qwen: FakeQwen):
    core = await thinking_core(make_settings)
    try:
        qwen.queue(Script(reasoning="first", text="One."), Script(reasoning="second", text="Two."))
        await ask(core, "q1")
        await ask(core, "q2")
        older = await reasoning.shown(core.settings, core.store, KEY, "q1")
        newer = await reasoning.shown(core.settings, core.store, KEY, "q2")
    finally:
        await core.close()
    assert (older, newer) == (sentences.REASONING_GONE, sentences.REASONING_SHOWN.format(text="second"))


async def test_reasoning_is_kept_only_for_reasoning_keep_seconds(make_settings, qwen: FakeQwen):
    core = await thinking_core(make_settings, reasoning_keep_seconds=0)
    try:
        qwen.queue(Script(reasoning="fleeting", text="Hi."))
        await ask(core, "q")
        assert await core.commands.run(REASONING, "", KEY, "u1") == sentences.REASONING_NONE
    finally:
        await core.close()


async def test_long_reasoning_is_kept_cut_to_its_bound(make_settings, qwen: FakeQwen):
    core = await thinking_core(make_settings)
    try:
        qwen.queue(Script(reasoning=" ".join(["x" * 1000] * 20), text="Hi."))
        await ask(core, "q")
        kept = await core.store.reasoning(KEY, oldest=0)
    finally:
        await core.close()
    assert kept is not None
    assert kept.text == "x" * reasoning.MAX_CHARS + sentences.REASONING_CUT


async def test_a_reset_forgets_the_reasoning_too(make_settings, qwen: FakeQwen):
    core = await thinking_core(make_settings)
    try:
        qwen.queue(Script(reasoning="private", text="Hi."))
        await ask(core, "q")
        await core.commands.reset(KEY)
        assert await core.store.reasoning(KEY, oldest=0) is None
    finally:
        await core.close()
