"""N conversations at once through the whole core, on both memory backends, against the raw SDK.

A fake Qwen server in its own process (so its CPU is not counted) answers every call after a
first-token delay (default 1 s) with 20 chunks. Each round sends one message in each of N
conversations at the same moment, through `ConversationCore.handle` with
MAX_CONCURRENT_REPLIES=N (so the cap does not hide the store), on SQLite and on PostgreSQL;
then the same N calls through the raw `AsyncOpenAI` streaming loop. It prints, side by side:

- total time for all N answers, and its ratio to the ideal: one call alone through the raw SDK
- the wait from `handle` to `reply.started()` (memory reads and writes before the model call)
- CPU milliseconds per turn

    python bench/concurrency.py [--conversations 200] [--first-token 1.0] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.core import ConversationCore, Outcome  # noqa: E402
from bot.reply import Reply  # noqa: E402
from bot.types import Author, ConversationKey, Incoming  # noqa: E402

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CHUNKS = 20

SERVER = """
import asyncio, sys
from aiohttp import web
from tests.fakes.qwen import FakeQwen, Script

async def serve(first: float, chunks: int) -> None:
    server = FakeQwen()
    text = " ".join(f"word{i}" for i in range(chunks))
    server.responder = lambda body: Script(text=text, first_delay=first, delay=0.01)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server._chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

asyncio.run(serve(float(sys.argv[1]), int(sys.argv[2])))
"""


class TimedReply(Reply):
    update_interval = 1.0

    def __init__(self, since: float) -> None:
        self.since = since
        self.waited = 0.0

    async def started(self) -> None:
        self.waited = time.perf_counter() - self.since

    async def partial(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        return None

    async def fail(self, message: str) -> None:
        raise SystemExit(f"a turn failed: {message}")


@dataclass
class Run:
    wall: float
    cpu_ms: float  # per turn
    waits: list[float]


async def through_core(database_url: str, base_url: str, n: int) -> Run:
    settings = Settings(qwen_api_key="bench", qwen_base_url=base_url,  # type: ignore[arg-type]
                        database_url=database_url, max_concurrent_replies=n, user_rate_limit=0)
    core = await ConversationCore.start(settings)
    try:
        author = Author("u1", "Ann")
        tag = uuid.uuid4().hex[:6]
        start, cpu = time.perf_counter(), time.process_time()
        replies = [TimedReply(start) for _ in range(n)]
        outcomes = await asyncio.gather(*(
            core.handle(Incoming(ConversationKey("bench", "space", f"{tag}-{i}"), f"m{i}", author,
                                 "Hello there, how are you?"), reply)
            for i, reply in enumerate(replies)))
        run = Run(time.perf_counter() - start, (time.process_time() - cpu) / n * 1000,
                  [r.waited for r in replies])
        await core.idle()
    finally:
        await core.close()
    if any(o is not Outcome.ANSWERED for o in outcomes):
        raise SystemExit(f"not every turn was answered: {set(outcomes)}")
    return run


async def through_sdk(base_url: str, n: int) -> Run:
    client = AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0)
    messages = [{"role": "system", "content": "You are Qwen."},
                {"role": "user", "content": "Ann: Hello there, how are you?"}]

    async def call() -> float:
        stream = await client.chat.completions.create(
            model="qwen-max", messages=messages, stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True}, max_completion_tokens=2048)
        first = 0.0
        async for _chunk in stream:
            first = first or time.perf_counter()
        return first

    start, cpu = time.perf_counter(), time.process_time()
    firsts = await asyncio.gather(*(call() for _ in range(n)))
    wall, cpu_ms = time.perf_counter() - start, (time.process_time() - cpu) / n * 1000
    run = Run(wall, cpu_ms, [first - start for first in firsts])
    await client.close()
    return run


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000 if len(values) > 1 \
        else values[0] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=200, help="conversations answered at once")
    parser.add_argument("--first-token", type=float, default=1.0, help="the fake model's first-token delay")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 conversations, 0.2 s, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.first_token, args.rounds = 20, 0.2, 1
    n = args.conversations
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVER, str(args.first_token),
                                                  str(CHUNKS), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    schema = f"qwenbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE SCHEMA {schema}")
    pg_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"
    try:
        assert server.stdout is not None
        base_url = f"http://127.0.0.1:{int(await server.stdout.readline())}/v1"
        ideal = min([(await through_sdk(base_url, 1)).wall for _ in range(3)])
        runs: dict[str, list[Run]] = {"SQLite": [], "PostgreSQL": [], "raw SDK": []}
        with tempfile.TemporaryDirectory() as tmp:
            await through_core(f"sqlite:///{tmp}/warm.db", base_url, 5)  # imports, first connections
            for round_ in range(args.rounds):
                runs["SQLite"].append(await through_core(f"sqlite:///{tmp}/c{round_}.db", base_url, n))
                runs["PostgreSQL"].append(await through_core(pg_url, base_url, n))
                runs["raw SDK"].append(await through_sdk(base_url, n))
    finally:
        server.terminate()
        await server.wait()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    print(f"{n} conversations at once, fake model: {args.first_token:g} s to the first token, "
          f"{CHUNKS} chunks; ideal (one call alone, raw SDK) {ideal:.2f} s; median of {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs")
    print(f"{'':<11} {'total':>8} {'x ideal':>8} {'wait to first call p50/max':>28} {'CPU/turn':>10}")
    walls = {}
    for name, results in runs.items():
        wall = statistics.median(r.wall for r in results)
        walls[name] = wall
        waits = [w for r in results for w in r.waits]
        cpu = statistics.median(r.cpu_ms for r in results)
        label = "first token" if name == "raw SDK" else "reply.started()"
        print(f"{name:<11} {wall:7.2f}s {wall / ideal:7.2f}x {p(waits, 50):9.0f} / "
              f"{max(waits) * 1000:5.0f} ms ({label}) {cpu:7.2f} ms")
    print(f"PostgreSQL / SQLite total: {walls['PostgreSQL'] / walls['SQLite']:.2f}x (goal: at most 1.5x); "
          f"core / raw SDK: SQLite {walls['SQLite'] / walls['raw SDK']:.2f}x, "
          f"PostgreSQL {walls['PostgreSQL'] / walls['raw SDK']:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
