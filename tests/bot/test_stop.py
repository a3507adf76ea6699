"""A user's `stop`: the model call ends, the text so far is closed with the stopped mark and remembered."""

import asyncio

from bot import commands
from bot.core import Outcome
from bot.lifecycle import asked, within
from bot.sentences import INTERRUPTED_MARK, STOP_DONE, STOP_NOTHING, STOPPED_EMPTY, STOPPED_MARK
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.waiting import until

KEY = ConversationKey("discord", "g1", "general")
THREAD = ConversationKey("discord", "g1", "general", "t1")
ANN = Author("u1", "Ann")
BO = Author("u2", "Bo")
STOP = commands.find("stop")
assert STOP is not None


def question(text: str, message_id: str, key: ConversationKey = KEY, author: Author = ANN) -> Incoming:
    return Incoming(key, message_id, author, text)


async def answering(core, qwen: FakeQwen, reply: RecordingReply, message_id: str = "q1",
                    key: ConversationKey = KEY, author: Author = ANN) -> asyncio.Task:
    """An answer under way, with some text shown."""
    qwen.queue(Script(text="one two three four five six seven eight", delay=0.3))
    task = asyncio.create_task(core.handle(question("count", message_id, key, author), reply))
    await until(lambda: bool(reply.partials), message="a first partial")
    return task


async def test_the_stop_command_ends_the_askers_answer_with_the_stopped_mark(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply)
    said = await core.commands.run(STOP, "", KEY, ANN.id)
    assert await task is Outcome.ANSWERED
    assert said == STOP_DONE.format(count="1 answer")
    assert reply.final is not None and reply.final.endswith(STOPPED_MARK)
    assert INTERRUPTED_MARK not in reply.final
    assert not reply.final.startswith("one two three four five six seven eight")


async def test_the_stopped_answer_is_remembered_as_it_was_shown(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply)
    await core.commands.stop(KEY, ANN.id)
    await task
    turns = (await core.store.load(KEY)).turns
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[-1].text == reply.final
    assert turns[-1].message_id == "answer-to:q1"


async def test_someone_else_cannot_stop_an_answer_without_permission(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply)
    assert await core.commands.run(STOP, "", KEY, BO.id) == STOP_NOTHING
    await task
    assert reply.final == "one two three four five six seven eight"


async def test_a_moderator_stops_everyones_answers_here(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply)
    said = await core.commands.run(STOP, "", KEY, BO.id, moderator=True)
    await task
    assert said == STOP_DONE.format(count="1 answer")
    assert reply.final is not None and reply.final.endswith(STOPPED_MARK)


async def test_a_stop_in_a_channel_covers_its_threads_but_not_other_channels(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply, key=THREAD)
    other = ConversationKey("discord", "g1", "random")
    assert await core.commands.stop(other, ANN.id) == STOP_NOTHING
    assert await core.commands.stop(KEY, ANN.id) == STOP_DONE.format(count="1 answer")
    await task
    assert reply.final is not None and reply.final.endswith(STOPPED_MARK)


async def test_a_question_waiting_its_turn_is_stopped_before_the_model_is_called(core, qwen: FakeQwen):
    first, second = RecordingReply(), RecordingReply()
    running = await answering(core, qwen, first)
    waiting = asyncio.create_task(core.handle(question("next", "q2"), second))
    await until(lambda: len(core.lifecycle.answers) == 2, message="the second answer to queue")
    assert await core.commands.stop(KEY, ANN.id) == STOP_DONE.format(count="2 answers")
    assert await waiting is Outcome.STOPPED
    await running
    assert second.failure == STOPPED_EMPTY
    assert len(qwen.requests) == 1


async def test_one_answer_is_found_by_its_question_for_a_button(core, qwen: FakeQwen):
    reply = RecordingReply()
    task = await answering(core, qwen, reply, message_id="q7")
    found = core.lifecycle.find(asked("discord", "q7"))
    assert [a.user_id for a in found] == [ANN.id]
    assert core.lifecycle.find(asked("slack", "q7")) == []
    assert core.lifecycle.halt(found, BO.id) == 1
    await task
    assert reply.final is not None and reply.final.endswith(STOPPED_MARK)
    assert core.lifecycle.find(within(KEY)) == []


async def test_stopping_when_nothing_is_under_way_says_so(core):
    assert await core.commands.run(STOP, "", KEY, ANN.id) == STOP_NOTHING
