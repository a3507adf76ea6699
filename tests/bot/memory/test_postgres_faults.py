"""PostgreSQL going away under a running bot: every turn still has exactly one outcome.

Connections are killed the way an operator or a failover kills them (`pg_terminate_backend` from
another session), or cut by a relay (pgproxy.py) at the moment a write has committed but its
reply has not reached the store yet.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from bot.config import Settings
from bot.core import ConversationCore, Outcome
from bot.memory import MemoryStore, MemoryUnavailable, Turn, open_store, postgres
from bot.memory.postgres import RECEIPT_RETENTION_SECONDS
from bot.types import Author, ConversationKey, Incoming
from tests.bot.memory.backends import PG_URL, Backend
from tests.bot.memory.pgproxy import PgProxy
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script

KEY = ConversationKey("slack", "T1", "C1")
ANN = Author("U1", "Ann")
DAY = "2025-03-01"


async def kill_connections(application_name: str) -> int:
    """Terminate every server session the store under test has open; how many there were."""
    admin = await asyncpg.connect(PG_URL)
    try:
        return int(await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name=$1 AND pid <> pg_backend_pid()",
            application_name,
        ))
    finally:
        await admin.close()


class KillingReply(RecordingReply):
    """Kills the store's connections as the model is called: the user turn stored, the lock held,
    the answer not yet written."""

    def __init__(self, application_name: str) -> None:
        super().__init__()
        self.application_name = application_name
        self.killed = 0

    async def started(self) -> None:
        self.killed = await kill_connections(self.application_name)
        await super().started()


@pytest.fixture
def app_name() -> str:
    return f"qwenbot_fault_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def core(pg: Backend, app_name: str, make_settings: Callable[..., Settings],
               qwen: FakeQwen) -> AsyncIterator[ConversationCore]:
    qwen.responder = lambda body: Script(text="the whole answer", chunks=4)
    settings = make_settings(database_url=f"{pg.url}&application_name={app_name}")
    instance = await ConversationCore.start(settings)
    yield instance
    await instance.close()


@pytest.fixture
async def proxy(pg: Backend) -> AsyncIterator[PgProxy]:
    relay = await PgProxy(pg.url).start()
    yield relay
    await relay.stop()


@pytest.fixture
async def store(proxy: PgProxy) -> AsyncIterator[MemoryStore]:
    opened = await open_store(proxy.url)
    yield opened
    await opened.close()


def user_turn(text: str, message_id: str | None) -> Turn:
    return Turn("user", ANN.id, ANN.name, text, 3, message_id)


# -- connections killed mid-turn ----------------------------------------------------------------

async def test_connections_killed_mid_answer_give_the_answer_once_and_no_error(
    core: ConversationCore, app_name: str
) -> None:
    reply = KillingReply(app_name)

    outcome = await core.handle(Incoming(KEY, "m1", ANN, "hello"), reply)

    assert reply.killed > 0
    assert (outcome, reply.final, reply.failure) == (Outcome.ANSWERED, "the whole answer", None)


async def test_connections_killed_mid_answer_still_store_the_answer_once(
    core: ConversationCore, app_name: str
) -> None:
    await core.handle(Incoming(KEY, "m1", ANN, "hello"), KillingReply(app_name))

    snapshot = await core.store.load(KEY)
    assert [(t.role, t.text) for t in snapshot.turns] == [
        ("user", "hello"), ("assistant", "the whole answer")]


async def test_the_message_after_killed_connections_is_answered_with_its_history(
    core: ConversationCore, app_name: str, qwen: FakeQwen
) -> None:
    await core.handle(Incoming(KEY, "m1", ANN, "hello"), KillingReply(app_name))

    reply = RecordingReply()
    outcome = await core.handle(Incoming(KEY, "m2", ANN, "and then?"), reply)

    assert (outcome, reply.failure) == (Outcome.ANSWERED, None)
    sent = [m["content"] for m in qwen.chat_requests[-1]["messages"][1:]]
    assert sent[-2:] == ["the whole answer", "Ann: and then?"]


async def test_a_conversation_lock_lost_with_its_connection_is_taken_again_next_turn(
    core: ConversationCore, app_name: str
) -> None:
    await core.handle(Incoming(KEY, "m1", ANN, "hello"), KillingReply(app_name))
    await kill_connections(app_name)  # the shared lock connection too, between turns

    reply = RecordingReply()
    assert await core.handle(Incoming(KEY, "m2", ANN, "again"), reply) == Outcome.ANSWERED
    assert reply.failure is None


# -- writes whose reply was lost ----------------------------------------------------------------

async def test_a_user_turn_whose_reply_was_lost_is_stored_once_and_reported_as_stored(
    store: MemoryStore, proxy: PgProxy
) -> None:
    proxy.lose_reply_to(b"INSERT INTO turns")

    stored = await store.add_turn(KEY, user_turn("hello", "m1"))

    assert proxy.lost_replies == 1
    assert stored is not None
    assert await store.turns_after(KEY, 0) == [stored]


async def test_an_answer_whose_reply_was_lost_is_stored_once(store: MemoryStore, proxy: PgProxy) -> None:
    proxy.lose_reply_to(b"INSERT INTO turns")

    stored = await store.add_turn(KEY, Turn("assistant", "bot", "qwenbot", "an answer", 5))

    assert proxy.lost_replies == 1
    assert [t.text for t in await store.turns_after(KEY, 0)] == ["an answer"]
    assert stored is not None


async def test_usage_whose_reply_was_lost_is_counted_once(store: MemoryStore, proxy: PgProxy) -> None:
    proxy.lose_reply_to(b"INSERT INTO usage")

    await store.add_usage(KEY, ANN.id, 10, 20, DAY)

    assert proxy.lost_replies == 1
    assert (await store.usage(KEY, ANN.id, DAY)).conversation_total.total == 30


async def test_an_event_claim_whose_reply_was_lost_is_still_this_claim(
    store: MemoryStore, proxy: PgProxy
) -> None:
    proxy.lose_reply_to(b"INSERT INTO events")

    assert await store.claim_event("slack", "Ev1")
    assert proxy.lost_replies == 1
    assert not await store.claim_event("slack", "Ev1")


async def test_a_reset_whose_reply_was_lost_reports_what_it_deleted(
    store: MemoryStore, proxy: PgProxy
) -> None:
    await store.add_turn(KEY, user_turn("one", "m1"))
    await store.add_turn(KEY, user_turn("two", "m2"))
    proxy.lose_reply_to(b"INSERT INTO receipts (id, result, written_at) VALUES")

    assert await store.reset(KEY) == 2
    assert proxy.lost_replies == 1
    assert (await store.summary(KEY)).version == 1


# -- a server that goes away and comes back -----------------------------------------------------

async def test_a_database_that_stays_away_fails_the_write_once_with_memory_unavailable(
    store: MemoryStore, proxy: PgProxy
) -> None:
    proxy.go_down()

    with pytest.raises(MemoryUnavailable, match="unavailable"):
        await store.add_turn(KEY, user_turn("hello", "m1"))


async def test_the_store_works_again_when_the_database_comes_back(store: MemoryStore, proxy: PgProxy) -> None:
    await store.add_turn(KEY, user_turn("before", "m1"))
    proxy.go_down()
    with pytest.raises(MemoryUnavailable):
        await store.turns_after(KEY, 0)

    proxy.come_back()

    assert await store.add_turn(KEY, user_turn("after", "m2")) is not None
    assert [t.text for t in await store.turns_after(KEY, 0)] == ["before", "after"]
    async with store.lock(KEY):
        pass


# -- housekeeping -------------------------------------------------------------------------------

async def test_receipts_a_process_left_unpruned_are_deleted_by_the_next_ones_first_write(pg: Backend) -> None:
    # Replicas restarted before their RECEIPT_PRUNE_EVERY-th write never prune their receipts.
    earlier = await pg.open()
    await earlier.add_turn(KEY, user_turn("hello", "m1"))
    await earlier.close()
    admin = await asyncpg.connect(pg.url)
    try:
        await admin.execute("UPDATE receipts SET written_at = written_at - $1", 2 * RECEIPT_RETENTION_SECONDS)

        await (await pg.open()).add_turn(KEY, user_turn("again", "m2"))

        old = "SELECT count(*) FROM receipts WHERE written_at < extract(epoch FROM now()) - $1"
        assert await admin.fetchval(old, RECEIPT_RETENTION_SECONDS) == 0
    finally:
        await admin.close()


async def test_a_network_that_goes_silent_is_reported_unavailable_not_waited_on_forever(
    proxy: PgProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "STATEMENT_TIMEOUT_SECONDS", 0.5)
    store = await open_store(proxy.url)
    try:
        await store.add_turn(KEY, user_turn("before", "m1"))
        proxy.go_silent()
        with pytest.raises(MemoryUnavailable):
            async with asyncio.timeout(10):  # without a statement timeout: the kernel's, minutes
                await store.load(KEY)
    finally:
        proxy.go_down()
        await store.close()
