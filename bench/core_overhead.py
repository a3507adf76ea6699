"""How much of the raw client's speed the whole core keeps.

Against one zero-delay fake Qwen server (in its own process), this measures turns per second
through `ConversationCore.handle` (memory read and write, context building, streaming through
the throttle) and raw `AsyncOpenAI` streaming calls per second, then prints both and their ratio.
The raw client replays exactly the requests the core made (same growing histories), so the
ratio shows what the core adds, not what the SDK spends on a longer message list.

    python bench/core_overhead.py [--turns 400] [--conversations 20]
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
        raise RuntimeError(message)


async def raw_rate(base_url: str, requests: list[Request], parallel: int) -> float:
    client = AsyncOpenAI(api_key="bench", base_url=base_url)

    async def worker(share: list[Request]) -> None:
        for messages, model in share:
            stream = await client.chat.completions.create(
                model=model, messages=messages, stream=True,  # type: ignore[arg-type]
                stream_options={"include_usage": True}, max_completion_tokens=2048,
            )
            async for _chunk in stream:
                pass

    start = time.perf_counter()
    await asyncio.gather(*(worker(requests[i::parallel]) for i in range(parallel)))
    elapsed = time.perf_counter() - start
    await client.close()
    return len(requests) / elapsed


async def core_rate(base_url: str, turns: int, conversations: int, database: Path,
                    sent: list[Request], parallel: int, update_interval: float = 1.0) -> float:
    settings = Settings(qwen_api_key="bench", qwen_base_url=base_url,  # type: ignore[arg-type]
                        database_url=f"sqlite:///{database}")
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

    start = time.perf_counter()
    await asyncio.gather(*(worker(range(i, turns, parallel)) for i in range(parallel)))
    elapsed = time.perf_counter() - start
    await core.close()
    return turns / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--update-interval", type=float, default=1.0,
                        help="seconds between partial updates the reply accepts (Discord 1.2, Slack 1.0)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="turns in flight at once (conversations answered side by side)")
    args = parser.parse_args()
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.fakes.qwen", cwd=ROOT,
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
    raw, core = statistics.median(raws), statistics.median(cores)
    print(f"{args.turns} turns in {args.conversations} conversations, {args.parallel} at a time, "
          f"updates every {args.update_interval}s, median of {args.rounds} rounds")
    print(f"raw AsyncOpenAI streaming: {raw:8.1f} calls/s")
    print(f"through the core:          {core:8.1f} turns/s")
    print(f"core keeps {core / raw:.1%} of the raw client's rate (target: at least 85%)")


if __name__ == "__main__":
    asyncio.run(main())
