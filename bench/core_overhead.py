"""CPU per streamed turn through the whole core, against the raw `AsyncOpenAI` streaming loop.

Against one zero-delay fake Qwen server (in its own process, so its CPU is not counted), this
runs turns through `ConversationCore.handle` (memory read and write, context building, the Qwen
client's own SSE parsing, streaming through the throttle), then the raw SDK loop (`create(...,
stream=True)` and `async for chunk in stream`) replaying exactly the requests the core made (same
growing histories), and prints CPU milliseconds per turn and turns per second for both, and
their ratios. Goal: the core's CPU per turn at most 0.6x the raw loop's.

    python bench/core_overhead.py [--turns 400] [--conversations 20] [--words 200] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.core import ConversationCore  # noqa: E402
from bot.reply import Reply  # noqa: E402
from bot.types import Author, ConversationKey, Incoming  # noqa: E402

Request = tuple[list[dict[str, object]], str]


class NullReply(Reply):
    def __init__(self, update_interval: float) -> None:
        self.update_interval = update_interval

    async def partial(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        return None

    async def fail(self, message: str) -> None:
        FAILURES.append(message)


#: Sentences the core answered with instead of an answer: a run with any measures nothing useful.
FAILURES: list[str] = []


class Measured:
    """Turns per second and CPU milliseconds per turn of one run."""

    def __init__(self, turns: int, wall: float, cpu: float) -> None:
        self.rate = turns / wall
        self.cpu_ms = cpu / turns * 1000


async def raw_rate(base_url: str, requests: list[Request], parallel: int) -> Measured:
    client = AsyncOpenAI(api_key="bench", base_url=base_url)

    async def worker(share: list[Request]) -> None:
        for messages, model in share:
            stream = await client.chat.completions.create(
                model=model, messages=messages, stream=True,  # type: ignore[arg-type]
                stream_options={"include_usage": True}, max_completion_tokens=2048,
            )
            async for _chunk in stream:
                pass

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(requests[i::parallel]) for i in range(parallel)))
    measured = Measured(len(requests), time.perf_counter() - start, time.process_time() - cpu)
    await client.close()
    return measured


async def core_rate(base_url: str, turns: int, conversations: int, database: Path,
                    sent: list[Request], parallel: int, update_interval: float = 1.0) -> Measured:
    settings = Settings(qwen_api_key="bench", qwen_base_url=base_url,  # type: ignore[arg-type]
                        database_url=f"sqlite:///{database}", user_rate_limit=0)
    core = await ConversationCore.start(settings)
    stream = core.llm.stream

    def recording(messages, model, **options):  # type: ignore[no-untyped-def]
        sent.append((list(messages), model))
        return stream(messages, model, **options)

    core.llm.stream = recording  # type: ignore[method-assign]
    author = Author("u1", "Ann")
    keys = [ConversationKey("bench", "space", f"c{i}") for i in range(conversations)]

    async def worker(numbers: range) -> None:
        for turn in numbers:
            incoming = Incoming(keys[turn % conversations], f"m{turn}", author, "Hello there")
            await core.handle(incoming, NullReply(update_interval))

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(range(i, turns, parallel)) for i in range(parallel)))
    measured = Measured(turns, time.perf_counter() - start, time.process_time() - cpu)
    await core.close()
    if FAILURES:
        raise SystemExit(f"{len(FAILURES)} turns failed, the first with: {FAILURES[0]}")
    return measured


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--update-interval", type=float, default=1.0,
                        help="seconds between partial updates the reply accepts (Discord 1.2, Slack 1.0)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="turns in flight at once (conversations answered side by side)")
    parser.add_argument("--words", type=int, default=200,
                        help="words in each answer, one chunk each (0: the fake's 4-word default)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 40 turns, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.conversations, args.rounds = 40, 5, 1
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.fakes.qwen", "0",
                                                  str(args.words), cwd=ROOT,
                                                  stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        port = int(await server.stdout.readline())
        base_url = f"http://127.0.0.1:{port}/v1"
        raws, cores = [], []
        with tempfile.TemporaryDirectory() as tmp:
            warm: list[Request] = []
            await core_rate(base_url, 20, 5, Path(tmp) / "warm.db", warm, 1)  # warm up both sides
            await raw_rate(base_url, warm, 1)
            for round_ in range(args.rounds):
                sent: list[Request] = []
                database = Path(tmp) / f"bench{round_}.db"
                cores.append(await core_rate(base_url, args.turns, args.conversations, database, sent,
                                             args.parallel, args.update_interval))
                raws.append(await raw_rate(base_url, sent, args.parallel))
    finally:
        server.terminate()
        await server.wait()
    raw_rate_, core_rate_ = (statistics.median(m.rate for m in runs) for runs in (raws, cores))
    raw_cpu, core_cpu = (statistics.median(m.cpu_ms for m in runs) for runs in (raws, cores))
    words = f"{args.words}-word answers" if args.words else "the fake's 4-word answer"
    print(f"{args.turns} turns in {args.conversations} conversations, {args.parallel} at a time, {words}, "
          f"updates every {args.update_interval}s, median of {args.rounds} rounds")
    print(f"raw AsyncOpenAI streaming: {raw_cpu:6.2f} ms CPU per call, {raw_rate_:8.1f} calls/s")
    print(f"through the core:          {core_cpu:6.2f} ms CPU per turn, {core_rate_:8.1f} turns/s")
    print(f"core CPU per turn: {core_cpu / raw_cpu:.2f}x the raw loop's (goal: at most 0.6x); "
          f"rate: {core_rate_ / raw_rate_:.2f}x")

if __name__ == "__main__":
    asyncio.run(main())
