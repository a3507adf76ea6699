"""👍/👎 on answers: one vote per user and answer, counted in `usage`, never sent to the model."""

from bot import commands
from bot.sentences import FEEDBACK_THANKS, USAGE_FEEDBACK
from bot.types import Author, ConversationKey, Incoming
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen

KEY = ConversationKey("slack", "T1", "C1", "1.000")
USAGE = commands.find("usage")
assert USAGE is not None


async def ask(core, text: str, message_id: str) -> None:
    await core.handle(Incoming(KEY, message_id, Author("u1", "Ann"), text), RecordingReply())


async def test_votes_are_counted_in_usage(core):
    await ask(core, "hi", "1.000")
    assert await core.commands.feedback(KEY, "1.000", "u1", up=True) == FEEDBACK_THANKS
    await core.commands.feedback(KEY, "1.000", "u2", up=False)
    await core.commands.feedback(KEY, "1.000", "u3", up=True)
    usage = await core.commands.run(USAGE, "", KEY, "u1")
    assert USAGE_FEEDBACK.format(up=2, down=1) in usage


async def test_a_user_changing_their_vote_counts_once(core):
    await ask(core, "hi", "1.000")
    await core.commands.feedback(KEY, "1.000", "u1", up=True)
    await core.commands.feedback(KEY, "1.000", "u1", up=False)
    assert await core.store.votes(KEY) == (0, 1)


async def test_a_channels_count_includes_its_threads(core):
    await core.commands.feedback(KEY, "1.000", "u1", up=True)
    channel = ConversationKey("slack", "T1", "C1")
    assert await core.store.votes(channel) == (1, 0)
    assert await core.store.votes(ConversationKey("slack", "T1", "C2")) == (0, 0)


async def test_usage_without_votes_has_no_feedback_line(core):
    usage = await core.commands.run(USAGE, "", KEY, "u1")
    assert "👍" not in usage


async def test_feedback_never_reaches_the_model(core, qwen: FakeQwen):
    await ask(core, "hi", "1.000")
    await core.commands.feedback(KEY, "1.000", "u1", up=False)
    await ask(core, "again", "2.000")
    sent = str(qwen.requests[-1]["messages"])
    assert "👎" not in sent and "-1" not in sent and "feedback" not in sent.lower()


async def test_forget_me_deletes_the_users_votes(core):
    await core.commands.feedback(KEY, "1.000", "u1", up=True)
    await core.commands.feedback(KEY, "1.000", "u2", up=True)
    await core.commands.forget_me("slack", "u1")
    assert await core.store.votes(KEY) == (1, 0)
