"""The conversation core end to end: real SQLite, the real openai client, the fake Qwen server."""

import asyncio

from bot.core import ConversationCore, Outcome
from bot.llm import MESSAGES
from bot.memory import MemoryUnavailable, Turn
from bot.sentences import EMPTY_ANSWER, INTERRUPTED_MARK, MEMORY_UNAVAILABLE
from bot.types import Attachment, AttachmentKind, Author, ConversationKey, Incoming, Trigger
from bot.usage import today
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script, last_user_text
from tests.waiting import until

KEY = ConversationKey("discord", "guild1", "general")
ANN = Author("u1", "Ann")
BO = Author("u2", "Bo")

_ids = iter(range(1, 1_000_000))


def message(text: str, key: ConversationKey = KEY, author: Author = ANN, message_id: str | None = None,
            **fields: object) -> Incoming:
    return Incoming(key, message_id or f"m{next(_ids)}", author, text, **fields)  # type: ignore[arg-type]


def sent_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if isinstance(m["content"], str)]


async def test_an_answer_streams_into_the_reply_and_finishes_with_the_whole_text(core, qwen: FakeQwen):
    qwen.queue(Script(text="one two three", delay=0.01))
    reply = RecordingReply()
    assert await core.handle(message("hello"), reply) is Outcome.ANSWERED
    assert reply.started_called
    assert reply.partials and "one two three".startswith(reply.partials[0])
    assert reply.final == "one two three"
    assert reply.failure is None


async def test_the_model_sees_the_persona_and_the_authors_name(core, qwen: FakeQwen):
    await core.handle(message("hello"), RecordingReply())
    body = qwen.requests[0]
    assert body["messages"][0] == {"role": "system", "content": core.settings.system_prompt}
    assert body["messages"][-1] == {"role": "user", "content": "Ann: hello"}
    assert body["model"] == "qwen-max"


async def test_memory_survives_a_restart_of_the_core(make_settings, qwen: FakeQwen):
    first = await ConversationCore.start(make_settings())
    qwen.queue(Script(text="Nice to meet you, Ann."))
    await first.handle(message("My name is Ann and I like kites."), RecordingReply())
    await first.close()

    second = await ConversationCore.start(make_settings())
    await second.handle(message("What do I like?"), RecordingReply())
    await second.close()
    assert sent_texts(qwen.requests[1])[1:] == [
        "Ann: My name is Ann and I like kites.", "Nice to meet you, Ann.", "Ann: What do I like?"]


async def test_conversations_do_not_see_each_other(core, qwen: FakeQwen):
    await core.handle(message("secret plans", key=KEY), RecordingReply())
    other = ConversationKey("discord", "guild1", "random")
    await core.handle(message("hello", key=other), RecordingReply())
    assert not any("secret plans" in text for text in sent_texts(qwen.requests[1]))


async def test_threads_are_conversations_of_their_own(core, qwen: FakeQwen):
    await core.handle(message("in the channel"), RecordingReply())
    thread = ConversationKey("discord", "guild1", "general", "thread9")
    await core.handle(message("in the thread", key=thread), RecordingReply())
    assert not any("in the channel" in text for text in sent_texts(qwen.requests[1]))


async def test_quick_messages_get_answers_in_order_each_seeing_the_earlier_ones(core, qwen: FakeQwen):
    qwen.responder = lambda body: Script(text=f"answer to {last_user_text(body)}", delay=0.01)
    replies = [RecordingReply() for _ in range(5)]
    await asyncio.gather(*(core.handle(message(f"q{i}", message_id=f"q{i}"), replies[i]) for i in range(5)))
    assert [r.final for r in replies] == [f"answer to Ann: q{i}" for i in range(5)]
    for i, body in enumerate(qwen.requests):
        expected = []
        for j in range(i):
            expected += [f"Ann: q{j}", f"answer to Ann: q{j}"]
        assert sent_texts(body)[1:] == [*expected, f"Ann: q{i}"]


async def test_different_conversations_are_answered_concurrently(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_concurrent_replies=3))
    qwen.responder = lambda body: Script(text="slow answer here", delay=0.05)
    keys = [ConversationKey("discord", "g", f"c{i}") for i in range(6)]
    try:
        await asyncio.gather(*(core.handle(message("hi", key=k), RecordingReply()) for k in keys))
    finally:
        await core.close()
    assert qwen.max_in_flight == 3


async def test_a_message_seen_twice_is_answered_once(core, qwen: FakeQwen):
    first, second = RecordingReply(), RecordingReply()
    assert await core.handle(message("hi", message_id="same"), first) is Outcome.ANSWERED
    assert await core.handle(message("hi", message_id="same"), second) is Outcome.DUPLICATE
    assert len(qwen.requests) == 1
    assert second.final is None and second.partials == []


async def test_a_duplicate_arriving_while_the_first_is_answered_is_dropped(core, qwen: FakeQwen):
    qwen.queue(Script(text="a b c d", delay=0.05))
    outcomes = await asyncio.gather(core.handle(message("hi", message_id="twice"), RecordingReply()),
                                    core.handle(message("hi", message_id="twice"), RecordingReply()))
    assert sorted(outcomes) == sorted([Outcome.ANSWERED, Outcome.DUPLICATE])
    assert len(qwen.requests) == 1


async def test_an_empty_message_gets_no_model_call(core, qwen: FakeQwen):
    reply = RecordingReply()
    assert await core.handle(message("   \n "), reply) is Outcome.EMPTY
    assert qwen.requests == []
    assert reply.final is None and reply.failure is None


async def test_the_users_turn_is_kept_when_the_model_fails(core, qwen: FakeQwen):
    qwen.queue(Script(status=401))
    reply = RecordingReply()
    assert await core.handle(message("remember this"), reply) is Outcome.FAILED
    assert reply.failure == MESSAGES["auth"]
    await core.handle(message("and now?"), RecordingReply())
    assert sent_texts(qwen.requests[1])[1:] == ["Ann: remember this", "Ann: and now?"]


async def test_a_cut_stream_keeps_what_arrived_and_says_it_was_interrupted(core, qwen: FakeQwen):
    qwen.queue(Script(text="alpha beta gamma delta", cut_after=2))
    reply = RecordingReply()
    assert await core.handle(message("go"), reply) is Outcome.ANSWERED
    assert reply.final == "alpha beta " + INTERRUPTED_MARK
    await core.handle(message("next"), RecordingReply())
    assert "alpha beta " in sent_texts(qwen.requests[1])


async def test_an_empty_answer_is_a_failure_not_a_blank_message(core, qwen: FakeQwen):
    qwen.queue(Script(text=""))
    reply = RecordingReply()
    assert await core.handle(message("hi"), reply) is Outcome.FAILED
    assert reply.failure == EMPTY_ANSWER


async def test_a_message_longer_than_the_budget_is_cut_with_a_note(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_context_tokens=500))
    reply = RecordingReply()
    try:
        await core.handle(message("word " * 3000), reply)
    finally:
        await core.close()
    assert any("longer than" in note for note in reply.notices)
    user_text = sent_texts(qwen.requests[0])[-1]
    assert core.counter.count(user_text) <= 500
    assert reply.final


async def test_partial_updates_are_coalesced_to_the_adapters_interval(core, qwen: FakeQwen):
    # An interval far longer than the stream: only the first text goes out before the final one.
    qwen.queue(Script(text=" ".join(f"w{i}" for i in range(40)), delay=0.002))
    reply = RecordingReply(update_interval=60.0)
    await core.handle(message("go"), reply)
    assert reply.partials == ["w0 "]
    assert reply.final and reply.final.endswith("w39")


async def test_usage_from_the_stream_is_recorded(core, qwen: FakeQwen):
    qwen.queue(Script(text="a b c", prompt_tokens=100))
    await core.handle(message("hi"), RecordingReply())
    report = await core.store.usage(KEY, "u1", today())
    assert (report.conversation_today.prompt, report.conversation_today.completion) == (100, 3)
    assert report.user_today.total == 103


async def test_the_conversations_persona_and_model_are_used(core, qwen: FakeQwen):
    await core.commands.persona(KEY, "You are a pirate.")
    await core.commands.model(KEY, "qwen-plus")
    await core.handle(message("hi"), RecordingReply())
    assert qwen.requests[0]["messages"][0]["content"] == "You are a pirate."
    assert qwen.requests[0]["model"] == "qwen-plus"


async def test_images_go_to_the_vision_model_as_image_parts(core, qwen: FakeQwen):
    image = Attachment(AttachmentKind.IMAGE, "cat.png", "image/png", 4, data=b"\x89PNG")
    await core.handle(message("what is this?", attachments=(image,)), RecordingReply())
    body = qwen.requests[0]
    assert body["model"] == "qwen-vl-max"
    parts = body["messages"][-1]["content"]
    assert parts[1]["image_url"]["url"] == "data:image/png;base64,iVBORw=="


async def test_text_files_are_inlined_with_their_names(core, qwen: FakeQwen):
    code = Attachment(AttachmentKind.TEXT, "main.py", "text/x-python", 12, data=b"print('hi')\n")
    await core.handle(message("review this", attachments=(code,)), RecordingReply())
    assert "[file main.py]\n```\nprint('hi')\n\n```" in sent_texts(qwen.requests[0])[-1]


async def test_skipped_attachment_notes_reach_the_user(core, qwen: FakeQwen):
    reply = RecordingReply()
    note = "Skipped movie.mp4: I can read images and text files only."
    await core.handle(message("hi", skipped_notes=(note,)), reply)
    assert reply.notices == [note]


async def test_a_failing_reply_surface_does_not_stop_the_answer_being_stored(core, qwen: FakeQwen):
    class Broken(RecordingReply):
        async def partial(self, text: str) -> None:
            raise RuntimeError("platform down")

        async def finish(self, text: str) -> None:
            raise RuntimeError("platform down")

    assert await core.handle(message("hi"), Broken()) is Outcome.ANSWERED
    assert (await core.store.stats(KEY)).turns == 2


async def test_recorded_messages_become_context_without_a_model_call(core, qwen: FakeQwen):
    assert await core.record(message("Bo says the meeting moved to 3pm", author=BO))
    assert qwen.requests == []
    await core.handle(message("when is the meeting?"), RecordingReply())
    assert "Bo: Bo says the meeting moved to 3pm" in sent_texts(qwen.requests[0])


async def test_recording_the_same_message_twice_stores_it_once(core):
    assert await core.record(message("x", message_id="r1"))
    assert not await core.record(message("x", message_id="r1"))


async def test_has_history_is_true_once_the_bot_took_part(core):
    assert not await core.has_history(KEY)
    await core.handle(message("hi"), RecordingReply())
    assert await core.has_history(KEY)


async def test_claimed_events_are_claimed_once(core):
    assert await core.claim_event("slack", "Ev1")
    assert not await core.claim_event("slack", "Ev1")


async def test_direct_messages_are_sent_without_names(core, qwen: FakeQwen):
    dm = ConversationKey("discord", "dm", "d1")
    await core.handle(message("hi", key=dm, trigger=Trigger.DM), RecordingReply())
    assert sent_texts(qwen.requests[0])[-1] == "hi"


async def test_stored_turns_record_who_said_what(core):
    await core.handle(message("hi", author=BO), RecordingReply())
    turns: list[Turn] = await core.store.turns_after(KEY, 0)
    assert [(t.role, t.author_id, t.author_name) for t in turns] == [("user", "u2", "Bo"),
                                                                     ("assistant", "assistant", "assistant")]


async def test_a_thread_follows_its_channels_persona_and_model(core, qwen: FakeQwen):
    await core.commands.persona(KEY, "You are a pirate.")
    await core.commands.model(KEY, "qwen-plus")
    thread = ConversationKey("discord", "guild1", "general", "t1")
    await core.handle(message("hi", key=thread), RecordingReply())
    assert qwen.requests[0]["messages"][0]["content"] == "You are a pirate."
    assert qwen.requests[0]["model"] == "qwen-plus"
    assert "pirate" in await core.commands.persona(thread)


async def test_a_threads_own_persona_wins_over_its_channels(core, qwen: FakeQwen):
    thread = ConversationKey("discord", "guild1", "general", "t1")
    await core.commands.persona(KEY, "You are a pirate.")
    await core.commands.persona(thread, "You are a poet.")
    await core.handle(message("hi", key=thread), RecordingReply())
    assert qwen.requests[0]["messages"][0]["content"] == "You are a poet."


async def test_an_answer_refused_half_way_is_neither_shown_as_final_nor_remembered(core, qwen: FakeQwen):
    qwen.queue(Script(text="the forbidden words here", error_after=2, error_code="data_inspection_failed"),
               Script(text="fine"))
    reply = RecordingReply()
    assert await core.handle(message("say it"), reply) is Outcome.FAILED
    assert reply.failure == MESSAGES["content_refused"]
    assert reply.final is None
    await core.handle(message("next"), RecordingReply())
    assert not any("forbidden" in text for text in sent_texts(qwen.requests[1]))


async def test_a_slow_platform_does_not_hold_a_model_slot(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_concurrent_replies=1))
    release = asyncio.Event()

    class SlowPlatform(RecordingReply):
        async def finish(self, text: str) -> None:
            await release.wait()
            self.final = text

    slow = SlowPlatform()
    first = asyncio.create_task(core.handle(message("one"), slow))
    try:
        other = ConversationKey("discord", "guild1", "other")
        assert await core.handle(message("two", key=other), RecordingReply()) is Outcome.ANSWERED
        assert slow.final is None
    finally:
        release.set()
        await first
        await core.close()


async def test_a_thread_with_its_own_model_still_follows_its_channels_persona(core, qwen: FakeQwen):
    thread = ConversationKey("discord", "guild1", "general", "t1")
    await core.commands.persona(KEY, "You are a pirate.")
    await core.commands.model(thread, "qwen-turbo")
    await core.handle(message("hi", key=thread), RecordingReply())
    assert qwen.requests[0]["messages"][0]["content"] == "You are a pirate."
    assert qwen.requests[0]["model"] == "qwen-turbo"


async def test_a_reset_while_the_model_answers_keeps_the_answer_out_of_memory(core, qwen: FakeQwen):
    qwen.queue(Script(text="Noted: your password is hunter2, and more words", delay=0.02))
    reply = RecordingReply()
    answering = asyncio.create_task(core.handle(message("my password is hunter2"), reply))
    await until(lambda: bool(reply.partials), message="the answer to start")
    await core.commands.reset(KEY)
    assert await answering is Outcome.ANSWERED
    assert reply.final is not None  # shown to the user, who asked before the reset
    await core.handle(message("what do you remember?"), RecordingReply())
    assert not any("hunter2" in text for text in sent_texts(qwen.requests[-1]))


async def test_a_slow_partial_update_does_not_hold_a_model_slot(make_settings, qwen: FakeQwen):
    core = await ConversationCore.start(make_settings(max_concurrent_replies=1))
    release = asyncio.Event()

    class SlowEdits(RecordingReply):
        async def partial(self, text: str) -> None:
            await release.wait()

    qwen.queue(Script(text="one two", delay=0.01))
    first = asyncio.create_task(core.handle(message("one"), SlowEdits()))
    try:
        await until(lambda: len(qwen.requests) == 1, message="the first model call")
        other = ConversationKey("discord", "guild1", "other")
        await asyncio.wait_for(core.handle(message("two", key=other), RecordingReply()), 5)
    finally:
        release.set()
        await first
        await core.close()


async def test_memory_lost_after_the_answer_is_shown_adds_no_second_message(
    core: ConversationCore, monkeypatch
) -> None:
    add_turn = core.store.add_turn

    async def refuse_answers(key, turn, **options):  # type: ignore[no-untyped-def]
        if turn.role == "assistant":
            raise MemoryUnavailable("connection lost twice")
        return await add_turn(key, turn, **options)

    monkeypatch.setattr(core.store, "add_turn", refuse_answers)
    reply = RecordingReply()
    assert await core.handle(message("hi"), reply) is Outcome.FAILED
    assert reply.final == "Hello from fake Qwen." and reply.failure is None


async def test_memory_lost_before_the_answer_says_so_in_one_sentence(core: ConversationCore, monkeypatch):
    async def unavailable(*args, **options):  # type: ignore[no-untyped-def]
        raise MemoryUnavailable("connection lost twice")

    monkeypatch.setattr(core.store, "load", unavailable)
    reply = RecordingReply()
    assert await core.handle(message("hi"), reply) is Outcome.FAILED
    assert reply.final is None and reply.failure == MEMORY_UNAVAILABLE
