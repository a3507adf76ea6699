"""History at scale: `load` and the per-turn store sequence on a full database, both backends.

Fills each backend to CONVERSATIONS x TURNS (default 10,000 x 200, no summary) with a bulk
insert (SQLite `executemany` in one transaction, PostgreSQL `COPY`), after the store has created
its schema and indexes, then times through the store API, one call at a time, on conversations
picked at random:

- `load` (settings, summary and the turns a turn can use, with an 8,000-token budget)
- the whole store sequence of one answered turn: load, add the user's turn, the journal entry
  (begun, placed, ended), add the answer
  (`if_version`), add the usage

and prints p50/p99 of each (goals: load p99 under 5 ms, sequence p99 under 10 ms), the bytes the
database takes per million turns, and the side-by-side ratio of the two backends.

    python bench/memory_scale.py [--conversations 10000] [--turns 200] [--samples 2000] [--quick]

PostgreSQL is taken from TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.memory import MemoryStore, Turn, open_store  # noqa: E402
from bot.types import ConversationKey  # noqa: E402

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BUDGET = 8000  # the default MAX_CONTEXT_TOKENS
WORDS = "the a memory turn answer channel qwen model token budget history index fast 你好 世界 def x".split()


def text_pool(rng: random.Random) -> list[tuple[str, int]]:
    """Turn texts with their token counts (about 4 characters a token): short questions, longer answers."""
    pool = []
    for _ in range(500):
        words = rng.choice([rng.randint(5, 60), rng.randint(40, 300)])
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        pool.append((text, max(1, len(text) // 4)))
    return pool


def rows(conversations: int, turns: int, first_id: int, rng: random.Random):  # type: ignore[no-untyped-def]
    """Turn rows in the order they would have been written: conversations interleaved."""
    pool = text_pool(rng)
    now = time.time() - turns * 60
    for n in range(turns):
        for c in range(conversations):
            text, tokens = pool[(n * 7919 + c * 104729) % len(pool)]
            role = "user" if n % 2 == 0 else "assistant"
            author = f"u{c % 97}" if role == "user" else "assistant"
            message = f"m{n}" if role == "user" else None
            yield (first_id + c, role, author, author, text, message, tokens, now + n * 60)


def key(c: int) -> ConversationKey:
    return ConversationKey("bench", f"space{c % 50}", f"channel{c}")


async def create_conversations(store: MemoryStore, conversations: int) -> None:
    # Through the store, so ids and defaults are its own; 10,000 short writes take a few seconds.
    for start in range(0, conversations, 200):
        for c in range(start, min(conversations, start + 200)):
            await store.add_usage(key(c), "u0", 0, 0, "2026-01-01")


@dataclass
class Figures:
    name: str
    fill_s: float
    load: list[float]
    whole: list[float]
    sequence: list[float]
    bytes_per_million: float

    def line(self) -> str:
        def p(values: list[float], q: float) -> float:
            return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if q < 100 else 0

        return (f"{self.name:<10} load p50 {p(self.load, 50):6.2f} ms  p99 {p(self.load, 99):6.2f} ms   "
                f"(whole history: p50 {p(self.whole, 50):6.2f}  p99 {p(self.whole, 99):6.2f})   "
                f"sequence p50 {p(self.sequence, 50):6.2f} ms  p99 {p(self.sequence, 99):6.2f} ms   "
                f"{self.bytes_per_million / 1e6:7.1f} MB per 1M turns   (filled in {self.fill_s:.1f} s)")

    def p99(self, values: list[float]) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[98] * 1000


async def measure(name: str, store: MemoryStore, conversations: int, samples: int, fill_s: float,
                  size: Callable[[], Awaitable[int]], turns: int) -> Figures:
    rng = random.Random(7)
    loads, wholes, sequences = [], [], []
    for i in range(samples):
        k = key(rng.randrange(conversations))
        start = time.perf_counter()
        snapshot = await store.load(k, budget=BUDGET)
        loaded = time.perf_counter()
        await store.add_turn(k, Turn("user", "u1", "Ann", "How is the weather today?", 7, f"bench{i}"))
        # The journal of the answer in progress, as the core keeps it (crash recovery).
        entry = await store.begin_answer(k, f"bench{i}", "bench", snapshot.summary.version)
        await store.save_answer(entry, place='{"channel":"C1"}', text="Sunny")
        await store.add_turn(k, Turn("assistant", "assistant", "assistant", "Sunny, 24 degrees.", 6,
                                     f"answer-to:bench{i}"), if_version=snapshot.summary.version)
        await store.add_usage(k, "u1", 800, 6, "2026-01-02")
        await store.end_answer(entry)
        done = time.perf_counter()
        loads.append(loaded - start)
        sequences.append(done - start)
        if i % 4 == 0:  # side by side: what reading every unsummarised turn costs
            start = time.perf_counter()
            await store.load(k)
            wholes.append(time.perf_counter() - start)
    return Figures(name, fill_s, loads, wholes, sequences, await size() / (conversations * turns) * 1e6)


async def bench_sqlite(folder: Path, conversations: int, turns: int, samples: int) -> Figures:
    path = folder / "scale.db"
    store = await open_store(f"sqlite:///{path}")
    start = time.perf_counter()
    await create_conversations(store, conversations)
    await store.close()
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT MIN(id) FROM conversations WHERE platform='bench'").fetchone()[0]
        db.executemany("INSERT INTO turns (conversation_id, role, author_id, author_name, text, message_id,"
                       " tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       rows(conversations, turns, first, random.Random(1)))
        db.execute("ANALYZE")
    db.close()
    fill = time.perf_counter() - start
    store = await open_store(f"sqlite:///{path}")

    async def size() -> int:
        return await asyncio.to_thread(lambda: sum(p.stat().st_size for p in folder.glob("scale.db*")))

    try:
        return await measure("SQLite", store, conversations, samples, fill, size, turns)
    finally:
        await store.close()


async def bench_postgres(conversations: int, turns: int, samples: int) -> Figures:
    schema = f"qwenbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}"
    try:
        store = await open_store(url)
        start = time.perf_counter()
        await create_conversations(store, conversations)
        first = await admin.fetchval(f"SELECT MIN(id) FROM {schema}.conversations")
        await admin.copy_records_to_table(
            "turns", schema_name=schema,
            columns=["conversation_id", "role", "author_id", "author_name", "text", "message_id", "tokens",
                     "created_at"],
            records=rows(conversations, turns, first, random.Random(1)))
        await admin.execute(f"VACUUM ANALYZE {schema}.turns")
        fill = time.perf_counter() - start

        async def size() -> int:
            return int(await admin.fetchval(
                "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')", schema))

        try:
            return await measure("PostgreSQL", store, conversations, samples, fill, size, turns)
        finally:
            await store.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=200, help="turns per conversation")
    parser.add_argument("--samples", type=int, default=2000, help="timed turns per backend")
    parser.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 x 50, 100 samples")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.turns, args.samples = 100, 50, 100
    print(f"{args.conversations:,} conversations x {args.turns} turns, no summary, {BUDGET}-token budget, "
          f"{args.samples} timed turns each; {os.cpu_count()} CPUs")
    results = []
    if args.backend in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(await bench_sqlite(Path(tmp), args.conversations, args.turns, args.samples))
            print(results[-1].line(), flush=True)
    if args.backend in ("both", "postgres"):
        results.append(await bench_postgres(args.conversations, args.turns, args.samples))
        print(results[-1].line(), flush=True)
    for figures in results:
        load, sequence = figures.p99(figures.load), figures.p99(figures.sequence)
        print(f"{figures.name}: load p99 {load:.2f} ms ({'ok' if load < 5 else 'OVER'} the 5 ms goal), "
              f"sequence p99 {sequence:.2f} ms ({'ok' if sequence < 10 else 'OVER'} the 10 ms goal)")
    if len(results) == 2:
        sqlite_, pg = results
        print(f"PostgreSQL / SQLite: load p99 {pg.p99(pg.load) / sqlite_.p99(sqlite_.load):.2f}x, "
              f"sequence p99 {pg.p99(pg.sequence) / sqlite_.p99(sqlite_.sequence):.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
